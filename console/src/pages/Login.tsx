import { useState, type FormEvent } from 'react';
import { logIn, type Session } from '../api';
import { ErrorBox } from '../ui';

/** Password log-in of an account made with `union-ledger admin create` (or by a root admin over the API). */
export function LoginPage({ onLoggedIn }: { onLoggedIn: (session: Session) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLoggedIn(await logIn(username.trim(), password, totp.trim() || undefined));
    } catch (failure) {
      setError(failure as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <form onSubmit={(event) => void submit(event)} className="card">
        <h1>工会积分账本</h1>
        <p className="muted">管理控制台 · 工会管理员、财务审批人、审计人员登录</p>
        <label>
          用户名
          <input name="username" autoComplete="username" value={username} onChange={(event) => setUsername(event.target.value)} required />
        </label>
        <label>
          密码
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(event) => setPassword(event.target.value)} required />
        </label>
        <label>
          动态验证码（账号绑定了身份验证器时填写）
          <input name="totp" inputMode="numeric" pattern="[0-9]{6}" maxLength={6} autoComplete="one-time-code" value={totp} onChange={(event) => setTotp(event.target.value)} />
        </label>
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>
          {busy ? '登录中…' : '登录'}
        </button>
      </form>
    </div>
  );
}
