/**
 * A progress bar on a terminal, nothing otherwise: piped output and CI logs stay clean.
 * Redraws at most every 100 ms so a fast loop does not spend its time printing.
 */
export class ProgressBar {
  private lastDrawMs = 0;
  private readonly enabled: boolean;

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = Boolean(stream.isTTY);
  }

  update(done: number, total: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDrawMs < 100 && done < total) return;
    this.lastDrawMs = now;
    const width = 30;
    const ratio = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(ratio * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    this.stream.write(`\r${this.label} [${bar}] ${(ratio * 100).toFixed(0).padStart(3)}% ${done}/${total}`);
  }

  finish(): void {
    if (this.enabled) this.stream.write('\n');
  }
}
