import { useMemo, useState } from 'react';
import { api, type Session } from '../api';
import { Card, Empty, ErrorBox, Loading, Progress, useLoad } from '../ui';

interface OrgNode {
  orgId: string;
  name: string;
  parentId: string | null;
  level: string;
  members: number;
  activeMembers: number;
}

interface TreeNode extends OrgNode {
  children: TreeNode[];
  /** This organisation's members and everything below it. */
  totalMembers: number;
  totalActive: number;
}

const LEVELS: Record<string, string> = { province: '省', city: '市', county: '县/区', district: '区', grassroots: '基层工会' };

/** The answer is a flat list, shallowest first; the tree and its rolled-up counts are built here. */
function buildTree(orgs: OrgNode[]): TreeNode[] {
  const nodes = new Map<string, TreeNode>(orgs.map((org) => [org.orgId, { ...org, children: [], totalMembers: org.members, totalActive: org.activeMembers }]));
  const roots: TreeNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.parentId ? nodes.get(node.parentId) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  const total = (node: TreeNode): void => {
    for (const child of node.children) {
      total(child);
      node.totalMembers += child.totalMembers;
      node.totalActive += child.totalActive;
    }
  };
  roots.forEach(total);
  return roots;
}

function Branch({ node, depth, open, toggle }: { node: TreeNode; depth: number; open: Set<string>; toggle: (id: string) => void }) {
  const expanded = open.has(node.orgId);
  const percent = node.totalMembers === 0 ? 0 : (node.totalActive / node.totalMembers) * 100;
  return (
    <>
      <tr data-org={node.orgId}>
        <td style={{ paddingLeft: `${0.5 + depth * 1.2}rem` }}>
          {node.children.length > 0 ? (
            <button className="twisty" aria-label={expanded ? '收起' : '展开'} onClick={() => toggle(node.orgId)}>
              {expanded ? '▾' : '▸'}
            </button>
          ) : (
            <span className="twisty" />
          )}
          {node.name}
          <span className="muted small"> {node.orgId}</span>
        </td>
        <td className="hide-narrow">{LEVELS[node.level] ?? node.level}</td>
        <td className="num">{node.children.length}</td>
        <td className="num">{node.totalMembers.toLocaleString('zh-CN')}</td>
        <td className="num">{node.totalActive.toLocaleString('zh-CN')}</td>
        <td className="hide-narrow">
          <Progress percent={percent} />
        </td>
      </tr>
      {expanded && node.children.map((child) => <Branch key={child.orgId} node={child} depth={depth + 1} open={open} toggle={toggle} />)}
    </>
  );
}

export function OrgsPage({ session }: { session: Session }) {
  const { data, error, loading } = useLoad(() => api<{ orgs: OrgNode[]; truncated: boolean }>('/v1/admin/org-tree'), [session.accessToken]);
  const roots = useMemo(() => (data ? buildTree(data.orgs) : []), [data]);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const effectiveOpen = open.size === 0 && roots.length > 0 ? new Set(roots.map((root) => root.orgId)) : open;
  const toggle = (id: string) => {
    const next = new Set(effectiveOpen);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setOpen(next);
  };
  return (
    <Card title="组织架构与会员人数">
      <Loading when={loading} />
      <ErrorBox error={error} />
      {data && data.orgs.length === 0 ? <Empty /> : null}
      {data && data.orgs.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>组织</th>
                <th className="hide-narrow">层级</th>
                <th className="num">下级</th>
                <th className="num">会员</th>
                <th className="num">已激活</th>
                <th className="hide-narrow">激活率</th>
              </tr>
            </thead>
            <tbody>
              {roots.map((root) => (
                <Branch key={root.orgId} node={root} depth={0} open={effectiveOpen} toggle={toggle} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {data?.truncated ? <p className="muted">组织过多，仅显示前 5000 个。</p> : null}
    </Card>
  );
}
