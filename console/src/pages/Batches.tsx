import { useEffect } from 'react';
import { api, type Session } from '../api';
import { Card, Empty, ErrorBox, Loading, Progress, statusName, time, useLoad } from '../ui';

interface Batch {
  batchId: string;
  kind: 'money' | 'vouchers';
  programmeId: string;
  orgId: string;
  status: string;
  memberCount: number;
  total: string;
  paidCount: number;
  paid: string;
  unpaidCount: number;
  draftedAt: string;
  completedAt: string | null;
}

/** Batches being paid refresh every few seconds while this page is open. */
const REFRESH_MS = 5_000;

/** Disbursement batches of the caller's subtree and how far each has paid. */
export function BatchesPage({ session }: { session: Session }) {
  const batches = useLoad(() => api<{ batches: Batch[] }>('/v1/admin/batches?limit=50'), [session.accessToken]);
  const paying = batches.data?.batches.some((batch) => batch.status === 'paying' || batch.status === 'approved') ?? false;
  useEffect(() => {
    if (!paying) return;
    const timer = setInterval(batches.reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [paying, batches.reload]);

  return (
    <Card title="福利发放批次" actions={<button onClick={batches.reload}>刷新</button>}>
      <Loading when={batches.loading && !batches.data} />
      <ErrorBox error={batches.error} />
      {batches.data && batches.data.batches.length === 0 ? <Empty text="还没有发放批次" /> : null}
      {batches.data && batches.data.batches.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>批次</th>
                <th className="hide-narrow">工会</th>
                <th>状态</th>
                <th className="num">人数</th>
                <th className="num">金额</th>
                <th>进度</th>
              </tr>
            </thead>
            <tbody>
              {batches.data.batches.map((batch) => (
                <tr key={batch.batchId} data-batch={batch.batchId}>
                  <td>
                    {batch.batchId}
                    <div className="muted small">
                      {batch.kind === 'money' ? '福利金' : '消费券'} · {batch.programmeId} · {time(batch.draftedAt)}
                    </div>
                  </td>
                  <td className="hide-narrow">{batch.orgId}</td>
                  <td>{statusName(batch.status)}</td>
                  <td className="num">{batch.memberCount}</td>
                  <td className="num">¥{batch.total}</td>
                  <td>
                    <Progress percent={batch.memberCount === 0 ? 0 : (batch.paidCount / batch.memberCount) * 100} />
                    <div className="muted small">
                      已发 {batch.paidCount} 人 ¥{batch.paid}
                      {batch.unpaidCount > 0 ? ` · 未发 ${batch.unpaidCount} 人` : ''}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Card>
  );
}
