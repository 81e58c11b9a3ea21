import { useEffect, useState } from 'react';
import { loadSession, logOut, onSessionExpired, type Session } from './api';
import { ROLE_NAMES } from './ui';
import { LoginPage } from './pages/Login';
import { OrgsPage } from './pages/Orgs';
import { MembersPage } from './pages/Members';
import { RulesPage } from './pages/Rules';
import { ApprovalsPage } from './pages/Approvals';
import { BatchesPage } from './pages/Batches';
import { CampaignsPage } from './pages/Campaigns';
import { HealthPage } from './pages/Health';

/** The console's pages, by path under /console/ (the service answers index.html for each). */
const PAGES = [
  { path: 'orgs', title: '组织架构', Page: OrgsPage },
  { path: 'members', title: '会员查询', Page: MembersPage },
  { path: 'rules', title: '积分规则', Page: RulesPage },
  { path: 'approvals', title: '审批事项', Page: ApprovalsPage },
  { path: 'batches', title: '福利发放', Page: BatchesPage },
  { path: 'campaigns', title: '目标任务', Page: CampaignsPage },
  { path: 'health', title: '系统运行', Page: HealthPage },
] as const;

const BASE = '/console/';

function currentPath(): string {
  const rest = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '';
  return rest.split('/')[0] || 'orgs';
}

export function navigate(path: string): void {
  history.pushState(null, '', BASE + path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession());
  const [path, setPath] = useState(currentPath());
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    const onPop = () => {
      setPath(currentPath());
      setMenuOpen(false);
    };
    window.addEventListener('popstate', onPop);
    const stop = onSessionExpired(() => setSession(null));
    return () => {
      window.removeEventListener('popstate', onPop);
      stop();
    };
  }, []);

  if (!session) return <LoginPage onLoggedIn={setSession} />;
  const page = PAGES.find((candidate) => candidate.path === path) ?? PAGES[0];
  const Page = page.Page;
  return (
    <div className="shell">
      <header className="top">
        <button className="menu" aria-label="菜单" onClick={() => setMenuOpen(!menuOpen)}>
          ☰
        </button>
        <h1>工会积分账本 · 管理控制台</h1>
        <div className="who">
          <span data-testid="who">
            {session.username}（{ROLE_NAMES[session.role] ?? session.role} · {session.org}）
          </span>
          <button
            className="link"
            onClick={() => {
              void logOut().then(() => setSession(null));
            }}
          >
            退出
          </button>
        </div>
      </header>
      <nav className={menuOpen ? 'side open' : 'side'}>
        {PAGES.map((candidate) => (
          <a
            key={candidate.path}
            href={BASE + candidate.path}
            className={candidate.path === page.path ? 'active' : ''}
            onClick={(event) => {
              event.preventDefault();
              navigate(candidate.path);
            }}
          >
            {candidate.title}
          </a>
        ))}
      </nav>
      <main>
        <Page session={session} />
      </main>
    </div>
  );
}
