import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Summary of a V8 .cpuprofile (written by `node --cpu-prof`): self time by function and by
 * package (node_modules/<name>, node: internals, this project's dist/src/<dir>), so a benchmark
 * can say where a process's CPU went without a profiler UI.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  byFunction: Array<[string, number]>;
  byArea: Array<[string, number]>;
}

function areaOf(url: string): string {
  if (url === '') return '(native, GC, idle)';
  if (url.startsWith('node:')) return 'node: internals';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = /dist\/(src\/[^/]+)/.exec(url);
  return dist ? dist[1]! : url;
}

export function summariseProfile(directory: string, top = 15): ProfileSummary | undefined {
  const files = readdirSync(directory).filter((name) => name.endsWith('.cpuprofile'));
  if (files.length === 0) return undefined;
  const file = path.join(directory, files.sort().pop()!);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, index) => {
    const node = byId.get(id);
    const deltaUs = profile.timeDeltas[index] ?? 0;
    if (!node) return;
    const frame = node.callFrame;
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') return;
    totalUs += deltaUs;
    const where = frame.url ? `${frame.url.replace(/^.*\/(node_modules|dist)\//, '')}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + deltaUs);
    const area = areaOf(frame.url);
    byArea.set(area, (byArea.get(area) ?? 0) + deltaUs);
  });
  const topOf = (map: Map<string, number>): Array<[string, number]> =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, top).map(([key, us]) => [key, us / 1000]);
  return { file, totalMs: totalUs / 1000, byFunction: topOf(byFunction), byArea: topOf(byArea) };
}
