import * as echarts from 'echarts';
import ExcelJS from 'exceljs';

/**
 * A weekly report's files, rendered from its stored rows: CSV (UTF-8 with a BOM, so Excel opens
 * the Chinese names), XLSX (exceljs) and a bar chart of the subtree's direct children (echarts'
 * server-side SVG renderer: no browser, no canvas).
 */

export type ReportFormat = 'csv' | 'xlsx' | 'svg';
export const REPORT_FORMATS: readonly ReportFormat[] = ['csv', 'xlsx', 'svg'];

export const CONTENT_TYPES: Record<ReportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  svg: 'image/svg+xml',
};

export interface ReportRow {
  orgId: string;
  parentId: string | null;
  name: string;
  level: string;
  /** 0 for the report's subtree top. */
  depth: number;
  done: number;
  target: number;
  members: number;
  /** done / target in percent, one decimal; null without a target. */
  percent: number | null;
  /** Rank among siblings (1 = best); 1 for the top. */
  rank: number;
  /** done minus last week's report's done; null when there was none. */
  change: number | null;
}

export interface ReportHeader {
  campaignName: string;
  measure: string;
  reportId: string;
  generatedAt: Date;
  orgName: string;
}

const LEVELS: Record<string, string> = { province: '省', city: '市', county: '县区', grassroots: '基层' };
const MEASURES: Record<string, string> = { activations: '激活', evaluations: '评议', 'check-ins': '签到', disbursements: '发放覆盖' };
const COLUMNS = ['序号', '单位', '单位编号', '上级', '层级', '会员数', '目标数', '完成数', '完成率%', '同级排名', '较上周'] as const;
/** Bars drawn at most: a county with more unions is drawn by its best and worst. */
const MAX_BARS = 120;

function cells(row: ReportRow, index: number): Array<string | number | null> {
  return [index + 1, `${'　'.repeat(row.depth)}${row.name}`, row.orgId, row.parentId, LEVELS[row.level] ?? row.level, row.members, row.target, row.done, row.percent, row.rank, row.change];
}

function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  // Formula injection: a cell starting with = + - @ is shown as text by spreadsheets when quoted with a leading '.
  const safe = /^[=+\-@]/.test(text) && typeof value === 'string' ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function renderCsv(rows: readonly ReportRow[]): Buffer {
  const lines = [COLUMNS.join(','), ...rows.map((row, index) => cells(row, index).map(csvField).join(','))];
  return Buffer.from(`\ufeff${lines.join('\r\n')}\r\n`, 'utf8');
}

export async function renderXlsx(header: ReportHeader, rows: readonly ReportRow[]): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'union-ledger';
  workbook.created = header.generatedAt;
  workbook.modified = header.generatedAt;
  const sheet = workbook.addWorksheet('进度', { views: [{ state: 'frozen', ySplit: 2 }] });
  sheet.addRow([`${header.campaignName}（${MEASURES[header.measure] ?? header.measure}）${header.orgName} 周报 ${header.reportId}`]);
  sheet.getRow(1).font = { bold: true, size: 14 };
  sheet.addRow([...COLUMNS]);
  sheet.getRow(2).font = { bold: true };
  rows.forEach((row, index) => sheet.addRow(cells(row, index)));
  sheet.columns.forEach((column, index) => {
    column.width = index === 1 ? 36 : 12;
  });
  sheet.getColumn(9).numFmt = '0.0';
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

export function renderSvg(header: ReportHeader, rows: readonly ReportRow[]): Buffer {
  const top = rows.find((row) => row.depth === 0);
  const children = rows.filter((row) => row.depth === 1);
  let bars = children.length > 0 ? children : top ? [top] : [];
  if (bars.length > MAX_BARS) {
    const ranked = [...bars].sort((a, b) => a.rank - b.rank);
    bars = [...ranked.slice(0, MAX_BARS / 2), ...ranked.slice(-MAX_BARS / 2)];
  }
  const width = Math.min(4000, Math.max(640, 60 + bars.length * 36));
  const height = 480;
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({
      animation: false,
      title: { text: `${header.campaignName} ${header.orgName}`, subtext: `完成率（%）${header.reportId}${top?.percent !== null && top ? `  合计 ${top.percent}%` : ''}`, left: 'center' },
      grid: { left: 50, right: 20, top: 80, bottom: 120 },
      xAxis: { type: 'category', data: bars.map((row) => row.name), axisLabel: { rotate: 45, interval: 0 } },
      yAxis: { type: 'value', max: 100, name: '%' },
      series: [
        {
          type: 'bar',
          data: bars.map((row) => row.percent ?? 0),
          label: { show: bars.length <= 40, position: 'top' },
          markLine: top?.percent !== null && top ? { symbol: 'none', data: [{ yAxis: top.percent, name: '合计' }] } : undefined,
        },
      ],
    });
    return Buffer.from(chart.renderToSVGString(), 'utf8');
  } finally {
    chart.dispose();
  }
}

export async function renderReport(format: ReportFormat, header: ReportHeader, rows: readonly ReportRow[]): Promise<Buffer> {
  switch (format) {
    case 'csv':
      return renderCsv(rows);
    case 'xlsx':
      return renderXlsx(header, rows);
    case 'svg':
      return renderSvg(header, rows);
  }
}
