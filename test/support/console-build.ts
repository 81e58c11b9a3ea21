import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The browser tests drive the built console (dist/console), which `npm run build` (and so
 * `npm test`'s pretest) makes. Run alone (`npx jest test/browser`) on a fresh clone or after
 * editing console/, they build it here first: when index.html is missing or older than any
 * source file.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const SOURCE = path.join(ROOT, 'console');
const BUILT = path.join(ROOT, 'dist', 'console', 'index.html');

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(full) : statSync(full).mtimeMs);
  }
  return newest;
}

export function ensureConsoleBuilt(): void {
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= newestMtimeMs(SOURCE)) return;
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'console'], { cwd: ROOT, stdio: 'inherit' });
}
