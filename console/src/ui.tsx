import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { ApiError } from './api';

/** Loads on mount and whenever `deps` change; `reload` fetches again. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): { data: T | null; error: ApiError | Error | null; loading: boolean; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load().then(
      (value) => {
        if (!live) return;
        setData(value);
        setError(null);
        setLoading(false);
      },
      (failure: unknown) => {
        if (!live) return;
        setError(failure instanceof Error ? failure : new Error(String(failure)));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((value) => value + 1), []);
  return { data, error, loading, reload };
}

/** What the service said, in the user's words where we know the code. */
const MESSAGES: Record<string, string> = {
  'SESSION.CREDENTIALS_INVALID': '用户名、密码或动态验证码不正确',
  'SESSION.ACCOUNT_LOCKED': '登录失败次数过多，账号已暂时锁定，请稍后再试',
  'AUTH.FORBIDDEN': '您的角色无权进行此操作',
  'ORG.NOT_FOUND': '未找到该组织（或不在您的管辖范围内）',
  'ORG.FORBIDDEN': '该组织不在您的管辖范围内',
  'PROPOSAL.SELF_APPROVAL': '不能审批自己提交的申请',
  'RATE_LIMITED': '请求过于频繁，请稍后再试',
};

export function ErrorBox({ error }: { error: Error | null }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : '';
  return (
    <div className="error" role="alert">
      {MESSAGES[code] ?? '出错了'}
      {code ? <span className="code"> {code}</span> : null}
      <div className="detail">{error.message}</div>
    </div>
  );
}

export function Loading({ when }: { when: boolean }) {
  return when ? <div className="loading">加载中…</div> : null;
}

export function Card({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="card">
      <header>
        <h2>{title}</h2>
        {actions ? <div className="actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export function Empty({ text = '暂无数据' }: { text?: string }) {
  return <div className="empty">{text}</div>;
}

export function Progress({ percent }: { percent: number }) {
  const bounded = Math.max(0, Math.min(100, percent));
  return (
    <div className="progress" aria-label={`${percent.toFixed(1)}%`}>
      <div className="bar" style={{ width: `${bounded}%` }} />
      <span>{percent.toFixed(1)}%</span>
    </div>
  );
}

export const ROLE_NAMES: Record<string, string> = { admin: '工会管理员', finance: '财务审批人', auditor: '审计', merchant: '商户终端', member: '会员', visitor: '访客' };

export const STATUS_NAMES: Record<string, string> = {
  pending: '待审批',
  approved: '已批准',
  rejected: '已驳回',
  expired: '已过期',
  drafting: '起草中',
  sealed: '已封存',
  paying: '发放中',
  stopped: '已停止',
  completed: '已完成',
  cancelled: '已取消',
  enrolled: '已入库',
  active: '已激活',
};

export function statusName(status: unknown): string {
  return STATUS_NAMES[String(status)] ?? String(status);
}

export function time(iso: unknown): string {
  if (typeof iso !== 'string' || !iso) return '—';
  return new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
}
