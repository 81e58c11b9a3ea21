import { readFileSync } from 'node:fs';

/**
 * A flame graph from a V8 .cpuprofile (what `node --cpu-prof` writes), in two steps:
 *
 * 1. `foldProfile`: every sample is folded into its stack, root first, as Brendan Gregg's
 *    "folded stacks" (`main;handle;append 123`): one line per distinct stack with the time its
 *    samples took, in microseconds (the profile's timeDeltas, not the sample count, so an uneven
 *    sampling interval is not miscounted).
 * 2. `renderFlameGraph`: the folded stacks as an SVG, one box per frame, the root at the bottom,
 *    each box as wide as its time (the classic layout of flamegraph.pl), coloured by where the
 *    code lives (this project, a package, Node's internals, native/GC).
 *
 * Written by hand on purpose: the converters on npm (and flamegraph.pl, which is Perl) would be a
 * new dependency for a 200-line job, and the lead pinned the packages (no `npm install` on the
 * shared node_modules). The SVG is static (a <title> per box is its tooltip) and small: frames
 * narrower than `minWidthPct` of the total are left out, which keeps a 60 s profile under ~300 KB.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Stacks (frames root first, joined by ';') and their time in microseconds. */
export type FoldedStacks = Map<string, number>;

/** A frame's label: the function and where it lives, short enough to read in a box. */
export function frameLabel(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const where = frame.url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(/^.*\/dist\//, '');
  // ';' separates frames in the folded format; a URL never has one, but a function name could.
  return `${name} ${where}:${frame.lineNumber + 1}`.replace(/;/g, ',');
}

/**
 * Folds the samples into stacks. `(idle)` samples are dropped (the process was waiting, not
 * working); `(program)` (V8 outside JavaScript) and `(garbage collector)` are kept as they are.
 */
export function foldProfile(profile: CpuProfile, options: { keepIdle?: boolean } = {}): FoldedStacks {
  const parentOf = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  const stackOf = new Map<number, string | undefined>();
  const stack = (id: number): string | undefined => {
    if (stackOf.has(id)) return stackOf.get(id);
    const frames: string[] = [];
    // A call tree is at most a few hundred deep; the bound only guards against a malformed file.
    for (let at: number | undefined = id, depth = 0; at !== undefined && depth < 10_000; at = parentOf.get(at), depth += 1) {
      const node = byId.get(at);
      if (!node) break;
      // The synthetic root of every V8 profile carries no information.
      if (node.callFrame.functionName === '(root)' && parentOf.get(at) === undefined) break;
      frames.push(frameLabel(node.callFrame));
    }
    const folded = frames.length === 0 ? undefined : frames.reverse().join(';');
    stackOf.set(id, folded);
    return folded;
  };
  const folded: FoldedStacks = new Map();
  profile.samples.forEach((id, index) => {
    const node = byId.get(id);
    if (!node) return;
    if (!options.keepIdle && node.callFrame.functionName === '(idle)') return;
    const key = stack(id);
    if (key === undefined) return;
    folded.set(key, (folded.get(key) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  return folded;
}

export function readCpuProfile(file: string): CpuProfile {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples) || !Array.isArray(profile.timeDeltas)) {
    throw new Error(`${file} is not a V8 .cpuprofile (nodes, samples, timeDeltas)`);
  }
  return profile;
}

/** The folded stacks as text, one `stack microseconds` line each, heaviest first. */
export function foldedText(folded: FoldedStacks): string {
  return [...folded].sort((a, b) => b[1] - a[1]).map(([stack, us]) => `${stack} ${Math.round(us)}`).join('\n') + '\n';
}

interface Frame {
  name: string;
  us: number;
  children: Map<string, Frame>;
}

function treeOf(folded: FoldedStacks): Frame {
  const root: Frame = { name: 'all', us: 0, children: new Map() };
  for (const [stack, us] of folded) {
    root.us += us;
    let at = root;
    for (const name of stack.split(';')) {
      let child = at.children.get(name);
      if (!child) {
        child = { name, us: 0, children: new Map() };
        at.children.set(name, child);
      }
      child.us += us;
      at = child;
    }
  }
  return root;
}

/** Colours by where the frame's code lives, so the project's own code stands out from packages and Node. */
function colourOf(name: string): string {
  if (/ src\//.test(name) || / bench\//.test(name)) return '#e8743b'; // this project (dist/src, dist/bench)
  if (/ node:/.test(name)) return '#6aa0d8'; // Node's own JavaScript
  if (/ \S+\.js:\d+$/.test(name)) return '#f2c14e'; // a package under node_modules
  return '#b0b0b0'; // native, GC, (program)
}

const escapeXml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface FlameGraphOptions {
  title: string;
  /** Image width in pixels. */
  width?: number;
  /** Frames narrower than this share of the total are left out (with their children). */
  minWidthPct?: number;
  /** Deepest level drawn; deeper frames are left out. */
  maxDepth?: number;
}

const FRAME_HEIGHT = 16;
const FONT_SIZE = 11;
/** Roughly the width of one character of an 11 px sans-serif font. */
const CHAR_WIDTH = 6.2;

/** The SVG of a flame graph: root at the bottom, children above, each box as wide as its time. */
export function renderFlameGraph(folded: FoldedStacks, options: FlameGraphOptions): string {
  const width = options.width ?? 1200;
  const minWidthPct = options.minWidthPct ?? 0.2;
  const maxDepth = options.maxDepth ?? 80;
  const root = treeOf(folded);
  const totalUs = Math.max(1, root.us);
  const scale = (width - 20) / totalUs;
  const boxes: Array<{ x: number; depth: number; w: number; frame: Frame }> = [];
  let deepest = 0;
  const place = (frame: Frame, x: number, depth: number): void => {
    const w = frame.us * scale;
    if ((100 * frame.us) / totalUs < minWidthPct || depth > maxDepth) return;
    boxes.push({ x, depth, w, frame });
    deepest = Math.max(deepest, depth);
    // Children sorted by name, as flamegraph.pl does: the x axis is not time, so a stable order
    // makes two graphs (before / after) comparable side by side.
    let childX = x;
    for (const child of [...frame.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      place(child, childX, depth + 1);
      childX += child.us * scale;
    }
  };
  place(root, 10, 0);
  const titleHeight = 40;
  const height = titleHeight + (deepest + 1) * FRAME_HEIGHT + 10;
  const rows = boxes.map(({ x, depth, w, frame }) => {
    const y = height - 10 - (depth + 1) * FRAME_HEIGHT;
    const pct = (100 * frame.us) / totalUs;
    const tooltip = `${frame.name} (${(frame.us / 1000).toFixed(1)} ms, ${pct.toFixed(2)} %)`;
    const fits = Math.floor((w - 4) / CHAR_WIDTH);
    const label = fits >= 3 ? (frame.name.length <= fits ? frame.name : `${frame.name.slice(0, fits - 2)}..`) : '';
    return (
      `<g><title>${escapeXml(tooltip)}</title><rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(0.5, w - 0.5).toFixed(1)}" height="${FRAME_HEIGHT - 1}" fill="${colourOf(frame.name)}"/>` +
      (label ? `<text x="${(x + 3).toFixed(1)}" y="${y + FRAME_HEIGHT - 4}">${escapeXml(label)}</text>` : '') +
      '</g>'
    );
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Verdana,sans-serif" font-size="${FONT_SIZE}">`,
    `<rect width="100%" height="100%" fill="#fdfdf8"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
    `<text x="${width / 2}" y="33" text-anchor="middle" fill="#555">${escapeXml(
      `${(totalUs / 1000).toFixed(0)} ms of CPU samples (idle left out); frames under ${minWidthPct} % hidden; orange: this project, yellow: packages, blue: node internals, grey: native/GC`,
    )}</text>`,
    ...rows,
    '</svg>',
    '',
  ].join('\n');
}
