/**
 * A bounded map that holds only while a version read elsewhere (for example the revision of the
 * organisation tree) answers what it answered when the map was filled: a cheap validity check
 * for process caches that other processes can make stale. The check is one call of
 * `readVersion`, shared by concurrent callers and by the calls of `validityMs` (0: every call
 * checks). Past `maxEntries`, the oldest entry goes.
 */
export class VersionedCache<V> {
  private readonly entries = new Map<string, V>();
  private version: string | null = null;
  private checkedAtMs = 0;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly readVersion: () => Promise<string>,
    private readonly maxEntries: number,
    private readonly validityMs = 0,
  ) {}

  /** Empties the cache when the version moved (or was never read). Call before a lookup. */
  async check(): Promise<void> {
    if (this.validityMs > 0 && Date.now() - this.checkedAtMs < this.validityMs) return;
    this.checking ??= (async () => {
      try {
        const version = await this.readVersion();
        if (version !== this.version) {
          this.entries.clear();
          this.version = version;
        }
        this.checkedAtMs = Date.now();
      } finally {
        this.checking = undefined;
      }
    })();
    await this.checking;
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: V): void {
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, value);
  }

  /** Forgets everything (this process just made the version move); the next check reads it again. */
  invalidate(): void {
    this.entries.clear();
    this.version = null;
    this.checkedAtMs = 0;
  }
}
