import { type Session } from '../api';
import { Card } from '../ui';

/** Campaign dashboard: wired to the campaigns API once it is merged (see docs/CONSOLE.md). */
export function CampaignsPage(_props: { session: Session }) {
  return (
    <Card title="目标任务">
      <p className="muted">目标任务功能尚未启用。</p>
    </Card>
  );
}
