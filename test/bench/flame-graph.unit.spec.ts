import { foldedText, foldProfile, renderFlameGraph, type CpuProfile } from '../../bench/lib/flame-graph';

/** A V8 profile in miniature: (root) -> main -> {work, (idle)}, with work calling hash. */
function profile(): CpuProfile {
  const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 5] },
      { id: 2, callFrame: frame('main', 'file:///app/dist/src/main.js', 9), children: [3] },
      { id: 3, callFrame: frame('work', 'file:///app/dist/src/api/work.js', 19), children: [4] },
      { id: 4, callFrame: frame('hash', 'node:crypto', 4) },
      { id: 5, callFrame: frame('(idle)') },
    ],
    // Two samples in work, three in hash (one of them twice as long), one idle.
    samples: [3, 4, 4, 3, 4, 5],
    timeDeltas: [100, 100, 100, 100, 200, 1000],
  };
}

describe('flame graph from a .cpuprofile', () => {
  it('folds every sample into its stack, root first, weighted by its time delta, idle left out', () => {
    const folded = foldProfile(profile());
    expect([...folded]).toEqual([
      ['main src/main.js:10;work src/api/work.js:20', 200],
      ['main src/main.js:10;work src/api/work.js:20;hash node:crypto:5', 400],
    ]);
    expect(foldedText(folded)).toBe('main src/main.js:10;work src/api/work.js:20;hash node:crypto:5 400\nmain src/main.js:10;work src/api/work.js:20 200\n');
  });

  it('keeps idle samples when asked', () => {
    expect(foldProfile(profile(), { keepIdle: true }).get('(idle)')).toBe(1000);
  });

  it('draws each frame as wide as its inclusive time, children above their parent', () => {
    const svg = renderFlameGraph(foldProfile(profile()), { title: 'test <profile>', width: 620, minWidthPct: 0 });
    // all (600 µs) spans the 600 px of drawing width; work is inclusive of hash; hash is 400/600 of it.
    const widths = [...svg.matchAll(/<title>([^ ]+)[^<]*<\/title><rect x="([\d.]+)" y="(\d+)" width="([\d.]+)"/g)].map((m) => [m[1], Number(m[2]), Number(m[3]), Number(m[4])]);
    expect(widths).toEqual([
      ['all', 10, expect.any(Number), 599.5],
      ['main', 10, expect.any(Number), 599.5],
      ['work', 10, expect.any(Number), 599.5],
      ['hash', 10, expect.any(Number), 399.5],
    ]);
    const ys = widths.map((row) => row[2] as number);
    expect(ys).toEqual([...ys].sort((a, b) => b - a)); // deeper frames higher up
    expect(svg).toContain('test &lt;profile&gt;');
  });

  it('leaves out frames narrower than the threshold', () => {
    const svg = renderFlameGraph(foldProfile(profile()), { title: 't', minWidthPct: 70 });
    expect(svg).toContain('<title>work');
    expect(svg).not.toContain('<title>hash');
  });
});
