import { useState } from 'react';
import { api, type Session } from '../api';
import { Card, Empty, ErrorBox, Loading, statusName, time, useLoad } from '../ui';

interface Proposal {
  proposalId: string;
  kind: string;
  orgId: string;
  amount?: string;
  summary: string;
  proposedBy: { id: string; role: string; orgId: string };
  status: string;
  decidedBy: { id: string } | null;
  reason: string | null;
  outcome: { status: string; code?: string; message?: string } | null;
  expiresAt: string;
  proposedAt: string;
}

const KINDS: Record<string, string> = {
  'budget.fund': '预算注资',
  'budget.allocate': '预算下拨',
  'budget.return': '预算上缴',
  'disbursement.batch': '福利金发放',
  'voucher.campaign': '消费券发放',
  'merchant.admit': '商户准入',
  'merchant.suspend': '商户暂停',
};

/**
 * The maker-checker inbox of the caller's subtree. Finance approvers approve or reject; the
 * service refuses an approval by the proposer and one outside the approver's subtree.
 */
export function ApprovalsPage({ session }: { session: Session }) {
  const [status, setStatus] = useState('pending');
  const inbox = useLoad(() => api<{ proposals: Proposal[] }>(`/v1/admin/proposals?status=${status}&limit=50`), [status, session.accessToken]);
  const [error, setError] = useState<Error | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const canDecide = session.role === 'finance';

  const decide = async (proposal: Proposal, approve: boolean) => {
    setError(null);
    setNotice(null);
    try {
      if (approve) {
        const answer = await api<{ status: string; outcome: Proposal['outcome'] }>(`/v1/admin/proposals/${proposal.proposalId}/approval`, { method: 'POST', key: `console-approve-${proposal.proposalId}` });
        setNotice(answer.outcome?.status === 'refused' ? `已批准，但执行被拒绝：${answer.outcome.code ?? ''}` : '已批准并执行');
      } else {
        const reason = window.prompt('驳回理由', '资料不全');
        if (!reason) return;
        await api(`/v1/admin/proposals/${proposal.proposalId}/rejection`, { method: 'POST', key: `console-reject-${proposal.proposalId}`, body: { reason } });
        setNotice('已驳回');
      }
      inbox.reload();
    } catch (failure) {
      setError(failure as Error);
    }
  };

  return (
    <Card
      title="审批事项"
      actions={
        <select name="status" value={status} onChange={(event) => setStatus(event.target.value)}>
          <option value="pending">待审批</option>
          <option value="approved">已批准</option>
          <option value="rejected">已驳回</option>
          <option value="expired">已过期</option>
        </select>
      }
    >
      {!canDecide ? <p className="muted">审批需财务审批人账号；提交人不能审批自己的申请。</p> : null}
      <Loading when={inbox.loading} />
      <ErrorBox error={inbox.error ?? error} />
      {notice ? (
        <div className="ok" role="status">
          {notice}
        </div>
      ) : null}
      {inbox.data && inbox.data.proposals.length === 0 ? <Empty text="没有待处理的事项" /> : null}
      <ul className="list">
        {inbox.data?.proposals.map((proposal) => (
          <li key={proposal.proposalId} data-proposal={proposal.proposalId}>
            <div className="row">
              <strong>{KINDS[proposal.kind] ?? proposal.kind}</strong>
              <span className={`badge ${proposal.status}`}>{statusName(proposal.status)}</span>
              {proposal.amount ? <span className="amount">¥{proposal.amount}</span> : null}
            </div>
            <div>{proposal.summary}</div>
            <div className="muted small">
              {proposal.orgId} · 提交人 {proposal.proposedBy.id} · {time(proposal.proposedAt)} · 截止 {time(proposal.expiresAt)}
            </div>
            {proposal.reason ? <div className="small">理由：{proposal.reason}</div> : null}
            {canDecide && proposal.status === 'pending' ? (
              <div className="buttons">
                <button onClick={() => void decide(proposal, true)}>批准</button>
                <button className="secondary" onClick={() => void decide(proposal, false)}>
                  驳回
                </button>
              </div>
            ) : null}
          </li>
        ))}
      </ul>
    </Card>
  );
}
