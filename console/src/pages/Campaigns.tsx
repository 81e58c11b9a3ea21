import { useEffect, useMemo, useState } from 'react';
import { api, ApiError, download, type Session } from '../api';
import { Chart } from '../chart';
import { Card, Empty, ErrorBox, Loading, Progress, time, useLoad } from '../ui';

interface Campaign {
  campaignId: string;
  name: string;
  rootOrgId: string;
  measure: string;
  startsAt: string;
  endsAt: string;
  milestones: Array<{ percent: number; by: string }>;
  targets: { version: number; units: number; total: number; members: number };
}

interface UnitProgress {
  orgId: string;
  name: string;
  level: string;
  done: number;
  target: number;
  members: number;
  percent: number | null;
}

interface ProgressView {
  campaignId: string;
  measure: string;
  org: UnitProgress & { next: { percent: number; by: string; needed: number; gap: number } | null };
  children: Array<UnitProgress & { rank: number; hasChildren: boolean }>;
  milestones: Array<{ percent: number; byDay?: string; by?: string; reached: { reachedAt?: string } | null }>;
}

interface Report {
  reportId: string;
  generatedAt: string;
  units: number;
  files: { csv: string; xlsx: string; svg: string };
}

const MEASURES: Record<string, string> = { activations: '注册激活', evaluations: '网上评议', 'check-ins': '签到', disbursements: '福利发放覆盖' };

/** Bars of done and target per child unit, ranked, with the campaign's milestones as lines. */
function progressChart(view: ProgressView) {
  const children = [...view.children].sort((a, b) => a.rank - b.rank);
  return {
    tooltip: { trigger: 'axis' },
    legend: { data: ['完成', '目标'] },
    grid: { left: 48, right: 16, top: 36, bottom: 90 },
    xAxis: { type: 'category', data: children.map((child) => child.name), axisLabel: { rotate: 40, interval: 0, fontSize: 11 } },
    yAxis: { type: 'value' },
    series: [
      { name: '完成', type: 'bar', data: children.map((child) => child.done), itemStyle: { color: '#c8161d' } },
      { name: '目标', type: 'bar', data: children.map((child) => child.target), itemStyle: { color: '#f3c6c8' } },
    ],
  };
}

/**
 * A campaign's dashboard for the caller's part of the tree: done / target / % and the gap to the
 * next milestone at the level looked at, each direct child ranked among its siblings (click a
 * child with units below to go down a level), a chart, and the weekly reports to download.
 */
export function CampaignsPage({ session }: { session: Session }) {
  const list = useLoad(() => api<{ campaigns: Campaign[] }>('/v1/admin/campaigns?limit=50'), [session.accessToken]);
  const [campaignId, setCampaignId] = useState<string | null>(null);
  const [orgPath, setOrgPath] = useState<Array<{ orgId: string; name: string }>>([]);
  useEffect(() => {
    if (!campaignId && list.data && list.data.campaigns.length > 0) setCampaignId(list.data.campaigns[0]!.campaignId);
  }, [list.data, campaignId]);
  const orgId = orgPath.length > 0 ? orgPath[orgPath.length - 1]!.orgId : undefined;
  const progress = useLoad(
    async () => (campaignId ? api<ProgressView>(`/v1/admin/campaigns/${campaignId}/progress${orgId ? `?orgId=${encodeURIComponent(orgId)}` : ''}`) : null),
    [campaignId, orgId],
  );
  const reports = useLoad(async () => (campaignId ? api<{ reports: Report[] }>(`/v1/admin/campaigns/${campaignId}/reports`) : null), [campaignId]);
  const [chartSvg, setChartSvg] = useState<string | null>(null);
  const [fileError, setFileError] = useState<Error | null>(null);
  const option = useMemo(() => (progress.data ? progressChart(progress.data) : null), [progress.data]);

  const fetchFile = async (report: Report, format: 'csv' | 'xlsx' | 'svg') => {
    setFileError(null);
    try {
      const suffix = orgId ? `?orgId=${encodeURIComponent(orgId)}` : '';
      if (format === 'svg') {
        const svg = await api<string>(report.files.svg + suffix, { as: 'text' });
        // A data: URL (the content security policy allows data: images), not a link carrying the token.
        setChartSvg(`data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(svg)))}`);
        return;
      }
      download(await api<Blob>(report.files[format] + suffix, { as: 'blob' }), `${campaignId}-${report.reportId}.${format}`);
    } catch (failure) {
      setFileError(failure as Error);
    }
  };

  if (list.error instanceof ApiError && list.error.status === 404 && list.error.code !== 'ORG.NOT_FOUND') {
    return (
      <Card title="目标任务">
        <p className="muted">本服务尚未启用目标任务功能。</p>
      </Card>
    );
  }
  const campaign = list.data?.campaigns.find((candidate) => candidate.campaignId === campaignId) ?? null;
  const view = progress.data;
  return (
    <>
      <Card
        title="目标任务"
        actions={
          list.data && list.data.campaigns.length > 0 ? (
            <select
              name="campaign"
              value={campaignId ?? ''}
              onChange={(event) => {
                setCampaignId(event.target.value);
                setOrgPath([]);
                setChartSvg(null);
              }}
            >
              {list.data.campaigns.map((candidate) => (
                <option key={candidate.campaignId} value={candidate.campaignId}>
                  {candidate.name}
                </option>
              ))}
            </select>
          ) : null
        }
      >
        <Loading when={list.loading} />
        <ErrorBox error={list.error} />
        {list.data && list.data.campaigns.length === 0 ? <Empty text="没有与您的组织相关的目标任务" /> : null}
        {campaign ? (
          <p className="muted small">
            {MEASURES[campaign.measure] ?? campaign.measure} · {time(campaign.startsAt)} 至 {time(campaign.endsAt)} · 节点：
            {campaign.milestones.map((milestone) => `${milestone.by} 前 ${milestone.percent}%`).join('，') || '无'}
          </p>
        ) : null}
        <ErrorBox error={progress.error} />
        {view ? (
          <div data-testid="campaign-progress">
            <div className="crumbs">
              <button className="link" onClick={() => setOrgPath([])}>
                我的范围
              </button>
              {orgPath.map((step, index) => (
                <span key={step.orgId}>
                  {' › '}
                  <button className="link" onClick={() => setOrgPath(orgPath.slice(0, index + 1))}>
                    {step.name}
                  </button>
                </span>
              ))}
            </div>
            <div className="tiles">
              <div className="tile">
                <div className="label">{view.org.name} 完成</div>
                <div className="value" data-testid="campaign-done">
                  {view.org.done.toLocaleString('zh-CN')}
                </div>
              </div>
              <div className="tile">
                <div className="label">目标</div>
                <div className="value">{view.org.target.toLocaleString('zh-CN')}</div>
              </div>
              <div className="tile">
                <div className="label">完成率</div>
                <div className="value" data-testid="campaign-percent">
                  {view.org.percent === null ? '—' : `${view.org.percent}%`}
                </div>
              </div>
              <div className="tile">
                <div className="label">下一节点</div>
                <div className="value small-value" data-testid="campaign-next">{view.org.next ? `${view.org.next.by} 前 ${view.org.next.percent}%` : '已全部达成'}</div>
                {view.org.next ? <div className="muted small">还差 {view.org.next.gap.toLocaleString('zh-CN')}</div> : null}
              </div>
            </div>
            {option && view.children.length > 0 ? <Chart option={option} label="下级单位完成情况" /> : null}
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th className="num">排名</th>
                    <th>单位</th>
                    <th className="num">完成</th>
                    <th className="num">目标</th>
                    <th>完成率</th>
                  </tr>
                </thead>
                <tbody>
                  {[...view.children]
                    .sort((a, b) => a.rank - b.rank)
                    .map((child) => (
                      <tr key={child.orgId} data-unit={child.orgId}>
                        <td className="num">{child.rank}</td>
                        <td>
                          {child.hasChildren ? (
                            <button className="link" onClick={() => setOrgPath([...orgPath, { orgId: child.orgId, name: child.name }])}>
                              {child.name}
                            </button>
                          ) : (
                            child.name
                          )}
                        </td>
                        <td className="num">{child.done.toLocaleString('zh-CN')}</td>
                        <td className="num">{child.target.toLocaleString('zh-CN')}</td>
                        <td>{child.percent === null ? '—' : <Progress percent={child.percent} />}</td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </div>
          </div>
        ) : null}
      </Card>
      {campaignId ? (
        <Card title="周报">
          <ErrorBox error={reports.error ?? fileError} />
          {reports.data && reports.data.reports.length === 0 ? <Empty text="还没有周报（每周一 0 点生成）" /> : null}
          <ul className="list">
            {reports.data?.reports.map((report) => (
              <li key={report.reportId}>
                <div className="row">
                  <strong>{report.reportId} 周报</strong>
                  <span className="muted small">
                    {report.units} 个单位 · 生成于 {time(report.generatedAt)}
                  </span>
                </div>
                <div className="buttons">
                  <button className="secondary" onClick={() => void fetchFile(report, 'csv')}>
                    下载 CSV
                  </button>
                  <button className="secondary" onClick={() => void fetchFile(report, 'xlsx')}>
                    下载 Excel
                  </button>
                  <button className="secondary" onClick={() => void fetchFile(report, 'svg')}>
                    查看图表
                  </button>
                </div>
              </li>
            ))}
          </ul>
          {chartSvg ? <img className="report-image" src={chartSvg} alt="周报图表" /> : null}
        </Card>
      ) : null}
    </>
  );
}
