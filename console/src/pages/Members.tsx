import { useState, type FormEvent } from 'react';
import { api, type Session } from '../api';
import { Card, Empty, ErrorBox, statusName, time } from '../ui';

interface Hit {
  memberId: string;
  nameMasked: string;
  orgId: string;
  orgName: string;
  status: string;
  enrolledAt: string;
  activatedAt: string | null;
}

/** Search by the start of a name or member id; the service answers masked names only. */
export function MembersPage({ session }: { session: Session }) {
  const [q, setQ] = useState('');
  const [hits, setHits] = useState<Hit[] | null>(null);
  const [error, setError] = useState<Error | null>(null);

  const search = async (event: FormEvent) => {
    event.preventDefault();
    if (!q.trim()) return;
    setError(null);
    try {
      const answer = await api<{ members: Hit[] }>(`/v1/admin/member-search?q=${encodeURIComponent(q.trim())}&limit=50`);
      setHits(answer.members);
    } catch (failure) {
      setError(failure as Error);
      setHits(null);
    }
  };

  return (
    <Card title="会员查询">
      <p className="muted">按姓名开头或会员编号开头查询，范围为 {session.org} 及其下级组织；姓名已脱敏，不显示身份证号、手机号、银行卡号。</p>
      <form className="inline" onSubmit={(event) => void search(event)}>
        <input name="q" placeholder="姓名或会员编号" value={q} maxLength={64} onChange={(event) => setQ(event.target.value)} />
        <button type="submit">查询</button>
      </form>
      <ErrorBox error={error} />
      {hits && hits.length === 0 ? <Empty text="没有找到会员" /> : null}
      {hits && hits.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>姓名</th>
                <th>所在工会</th>
                <th>状态</th>
                <th className="hide-narrow">会员编号</th>
                <th className="hide-narrow">激活时间</th>
              </tr>
            </thead>
            <tbody>
              {hits.map((hit) => (
                <tr key={hit.memberId}>
                  <td>{hit.nameMasked}</td>
                  <td>{hit.orgName}</td>
                  <td>{statusName(hit.status)}</td>
                  <td className="hide-narrow mono small">{hit.memberId}</td>
                  <td className="hide-narrow">{time(hit.activatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Card>
  );
}
