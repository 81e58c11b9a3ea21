import { useEffect } from 'react';
import { api, type Session } from '../api';
import { Card, ErrorBox, Loading, time, useLoad } from '../ui';

interface Projections {
  checkpoints: Record<string, string>;
  leaderboardCheckpoint: string;
  lag: Record<string, { appliedEvents: number; lagP50Ms: number | null; lagP99Ms: number | null; lastAppliedAt: string | null }>;
}

const QUEUE_NAMES: Record<string, string> = { insurance: '互助保障', payouts: '商户结算', sms: '短信', imports: '名册导入', schedules: '定时任务' };

/** `ul_queue_jobs{queue="sms",state="waiting"} 3` lines of the Prometheus text → queue → state → count. */
function queueDepths(metrics: string): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const line of metrics.split('\n')) {
    const match = /^ul_queue_jobs\{queue="([^"]+)",state="([^"]+)"\} (\d+(?:\.\d+)?)/.exec(line);
    if (!match) continue;
    const row = out.get(match[1]!) ?? {};
    row[match[2]!] = Number(match[3]);
    out.set(match[1]!, row);
  }
  return out;
}

/** Is the service well: PostgreSQL and Redis, each projection's checkpoint and lag, the queues' depths. */
export function HealthPage({ session }: { session: Session }) {
  const health = useLoad(() => api<{ status: string; schemaVersion: number; checks: Record<string, { ok: boolean; latencyMs?: number }> }>('/health'), [session.accessToken]);
  const projections = useLoad(() => api<Projections>('/v1/admin/projections'), [session.accessToken]);
  const metrics = useLoad(() => api<string>('/metrics', { as: 'text' }), [session.accessToken]);
  useEffect(() => {
    const timer = setInterval(() => {
      health.reload();
      projections.reload();
      metrics.reload();
    }, 10_000);
    return () => clearInterval(timer);
  }, [health.reload, projections.reload, metrics.reload]);
  const queues = metrics.data ? queueDepths(metrics.data) : new Map<string, Record<string, number>>();

  return (
    <>
      <Card title="服务状态">
        <Loading when={health.loading && !health.data} />
        <ErrorBox error={health.error} />
        {health.data ? (
          <div className="tiles">
            <div className={`tile ${health.data.status === 'ok' ? 'good' : 'bad'}`}>
              <div className="label">总体</div>
              <div className="value">{health.data.status === 'ok' ? '正常' : '异常'}</div>
            </div>
            {Object.entries(health.data.checks).map(([name, check]) => (
              <div key={name} className={`tile ${check.ok ? 'good' : 'bad'}`}>
                <div className="label">{name === 'postgres' ? 'PostgreSQL' : name === 'redis' ? 'Redis' : name}</div>
                <div className="value">{check.ok ? '正常' : '异常'}</div>
                {check.latencyMs !== undefined ? <div className="muted small">{check.latencyMs} ms</div> : null}
              </div>
            ))}
            <div className="tile">
              <div className="label">数据库结构版本</div>
              <div className="value">{health.data.schemaVersion}</div>
            </div>
          </div>
        ) : null}
      </Card>
      <Card title="投影（读模型）进度">
        <ErrorBox error={projections.error} />
        {projections.data ? (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>投影</th>
                  <th className="num">检查点</th>
                  <th className="num hide-narrow">本进程已处理</th>
                  <th className="num">延迟 p50 / p99</th>
                  <th className="hide-narrow">最近处理</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(projections.data.checkpoints).map(([name, position]) => {
                  const lag = projections.data!.lag[name];
                  return (
                    <tr key={name}>
                      <td>{name}</td>
                      <td className="num">{position}</td>
                      <td className="num hide-narrow">{lag?.appliedEvents ?? '—'}</td>
                      <td className="num">{lag && lag.lagP50Ms !== null ? `${lag.lagP50Ms} / ${lag.lagP99Ms} ms` : '—'}</td>
                      <td className="hide-narrow">{time(lag?.lastAppliedAt)}</td>
                    </tr>
                  );
                })}
                <tr>
                  <td>leaderboards (Redis)</td>
                  <td className="num">{projections.data.leaderboardCheckpoint}</td>
                  <td className="hide-narrow" />
                  <td />
                  <td className="hide-narrow" />
                </tr>
              </tbody>
            </table>
          </div>
        ) : null}
      </Card>
      <Card title="任务队列">
        <ErrorBox error={metrics.error} />
        {queues.size === 0 && metrics.data ? <p className="muted">本进程未连接队列。</p> : null}
        {queues.size > 0 ? (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>队列</th>
                  <th className="num">等待</th>
                  <th className="num">执行中</th>
                  <th className="num">延迟</th>
                  <th className="num">失败</th>
                </tr>
              </thead>
              <tbody>
                {[...queues.entries()].map(([queue, states]) => (
                  <tr key={queue}>
                    <td>{QUEUE_NAMES[queue] ?? queue}</td>
                    <td className="num">{states.waiting ?? 0}</td>
                    <td className="num">{states.active ?? 0}</td>
                    <td className="num">{states.delayed ?? 0}</td>
                    <td className={`num ${(states.failed ?? 0) > 0 ? 'warn' : ''}`}>{states.failed ?? 0}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        {session.role === 'admin' ? <p className="muted small">失败任务的详情与重试：省级管理员可在 /admin/queues 队列面板查看。</p> : null}
      </Card>
    </>
  );
}
