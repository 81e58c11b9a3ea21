import { readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { foldedText, foldProfile, readCpuProfile, renderFlameGraph } from './lib/flame-graph';

/**
 * `node dist/bench/flame-graph.js <file.cpuprofile | directory> --out=graph.svg [--folded=stacks.txt]
 *  [--title=...] [--min-width=0.2] [--width=1200]`
 *
 * Turns a profile written by `node --cpu-prof` (for instance by `bench/checkin.ts --profile`, which
 * prints where it left it) into a flame graph SVG, and optionally the folded stacks as text (the
 * input format of flamegraph.pl and speedscope). Given a directory, it takes the newest
 * .cpuprofile in it. The converter is bench/lib/flame-graph.ts.
 */

const USAGE = `Usage: node dist/bench/flame-graph.js <file.cpuprofile | directory> --out=graph.svg [--folded=stacks.txt] [--title=TEXT] [--min-width=PCT] [--width=PX]`;

function newestProfile(input: string): string {
  if (!statSync(input).isDirectory()) return input;
  const files = readdirSync(input)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => path.join(input, name))
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
  const newest = files.pop();
  if (!newest) throw new Error(`no .cpuprofile in ${input}`);
  return newest;
}

function main(): void {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      folded: { type: 'string' },
      title: { type: 'string' },
      'min-width': { type: 'string', default: '0.2' },
      width: { type: 'string', default: '1200' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || positionals.length !== 1 || (!values.out && !values.folded)) {
    console.log(USAGE);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const file = newestProfile(positionals[0]!);
  const folded = foldProfile(readCpuProfile(file));
  if (values.folded) writeFileSync(values.folded, foldedText(folded));
  if (values.out) {
    const minWidthPct = Number(values['min-width']);
    const width = Number(values.width);
    if (!(minWidthPct >= 0) || !(width >= 200)) throw new Error(`--min-width must be >= 0 and --width >= 200\n${USAGE}`);
    const svg = renderFlameGraph(folded, { title: values.title ?? path.basename(file), minWidthPct, width });
    writeFileSync(values.out, svg);
    console.log(`${values.out}: ${folded.size} distinct stacks from ${file}, ${Math.round(Buffer.byteLength(svg) / 1024)} KB`);
  }
}

main();
