import { useEffect, useMemo, useState } from 'react';
import { api, type Session } from '../api';
import { canonicalJson, diffLines } from '../diff';
import { Card, ErrorBox, Loading, time, useLoad } from '../ui';

interface VersionInfo {
  version: number;
  publishedAt: string;
  publishedBy: string;
}

type RuleSet = { version: number; rules: Record<string, unknown>; streakBonus: unknown };

const ACTIONS: Record<string, string> = {
  activation: '注册激活',
  checkin: '每日签到',
  comment: '评论',
  quiz: '每日答题',
  article: '浏览资讯',
  evaluation: '网上评议',
  activity: '参加活动',
  steps: '健步走',
};

/** The body of a version as it is published (PUT takes the rules and the streak bonus). */
const bodyOf = (rules: RuleSet) => ({ rules: rules.rules, streakBonus: rules.streakBonus ?? null });

/**
 * The earning rules: the current version (editable as JSON by a root admin: PUT with the version
 * it was based on, so a concurrent change is refused rather than overwritten), the list of
 * versions, and a line diff between any two.
 */
export function RulesPage({ session }: { session: Session }) {
  const history = useLoad(() => api<{ versions: VersionInfo[] }>('/v1/admin/earning-rules/versions'), [session.accessToken]);
  const versions = history.data?.versions ?? [];
  const latest = versions[0]?.version ?? 0;
  const [left, setLeft] = useState(0);
  const [right, setRight] = useState(0);
  useEffect(() => {
    if (latest > 0) {
      setRight(latest);
      setLeft(Math.max(1, latest - 1));
    }
  }, [latest]);

  const pair = useLoad(async () => {
    if (left < 1 || right < 1) return null;
    const [a, b] = await Promise.all([api<RuleSet>(`/v1/admin/earning-rules/versions/${left}`), api<RuleSet>(`/v1/admin/earning-rules/versions/${right}`)]);
    return { a, b };
  }, [left, right]);
  const diff = useMemo(() => (pair.data ? diffLines(canonicalJson(bodyOf(pair.data.a)), canonicalJson(bodyOf(pair.data.b))) : []), [pair.data]);
  const changed = diff.filter((line) => line.kind !== 'same').length;

  const current = useLoad(() => api<RuleSet>('/v1/admin/earning-rules'), [session.accessToken, latest]);
  const [draft, setDraft] = useState('');
  const [saveError, setSaveError] = useState<Error | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  useEffect(() => {
    if (current.data) setDraft(JSON.stringify(bodyOf(current.data), null, 2));
  }, [current.data]);

  const publish = async () => {
    setSaveError(null);
    setSaved(null);
    try {
      const body = JSON.parse(draft) as Record<string, unknown>;
      const published = await api<RuleSet>('/v1/admin/earning-rules', { method: 'PUT', body: { ...body, expectedVersion: current.data?.version ?? 1 } });
      setSaved(`已发布第 ${published.version} 版`);
      history.reload();
    } catch (failure) {
      setSaveError(failure instanceof SyntaxError ? new Error(`JSON 格式错误：${failure.message}`) : (failure as Error));
    }
  };

  const options = versions.map((info) => (
    <option key={info.version} value={info.version}>
      第 {info.version} 版 · {time(info.publishedAt)}
    </option>
  ));
  return (
    <>
      <Card title={`当前积分规则${current.data ? `（第 ${current.data.version} 版）` : ''}`}>
        <Loading when={current.loading} />
        <ErrorBox error={current.error} />
        {current.data ? (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>行为</th>
                  <th className="num">积分</th>
                  <th>上限</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(current.data.rules).map(([action, rule]) => {
                  const typed = rule as { points: number; caps?: Record<string, { maxCount?: number; maxPoints?: number }> };
                  const caps = Object.entries(typed.caps ?? {})
                    .map(([period, cap]) => `${period}: ${cap.maxCount ?? '—'} 次 / ${cap.maxPoints ?? '—'} 分`)
                    .join('；');
                  return (
                    <tr key={action}>
                      <td>{ACTIONS[action] ?? action}</td>
                      <td className="num">{typed.points}</td>
                      <td className="small">{caps || '—'}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : null}
        {session.role === 'admin' ? (
          <details className="editor">
            <summary>编辑并发布新版本（仅省级工会管理员）</summary>
            <textarea name="rules" spellCheck={false} value={draft} onChange={(event) => setDraft(event.target.value)} rows={16} />
            <button onClick={() => void publish()}>发布新版本</button>
            {saved ? <span className="ok"> {saved}</span> : null}
            <ErrorBox error={saveError} />
          </details>
        ) : null}
      </Card>
      <Card title="版本对比">
        <ErrorBox error={history.error} />
        <div className="inline">
          <label>
            旧版本
            <select name="left" value={left} onChange={(event) => setLeft(Number(event.target.value))}>
              {options}
            </select>
          </label>
          <label>
            新版本
            <select name="right" value={right} onChange={(event) => setRight(Number(event.target.value))}>
              {options}
            </select>
          </label>
          <span className="muted">{pair.data ? (changed === 0 ? '两个版本相同' : `${changed} 行不同`) : ''}</span>
        </div>
        <ErrorBox error={pair.error} />
        <pre className="diff" data-testid="diff">
          {diff.map((line, index) => (
            <div key={index} className={line.kind}>
              {line.kind === 'added' ? '+ ' : line.kind === 'removed' ? '- ' : '  '}
              {line.text}
            </div>
          ))}
        </pre>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>版本</th>
                <th>发布时间</th>
                <th>发布人</th>
              </tr>
            </thead>
            <tbody>
              {versions.map((info) => (
                <tr key={info.version}>
                  <td>第 {info.version} 版</td>
                  <td>{time(info.publishedAt)}</td>
                  <td className="small mono">{info.publishedBy}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
    </>
  );
}
