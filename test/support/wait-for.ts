/**
 * Tests wait for conditions, never for a fixed time: a machine may be busy, and PostgreSQL hides
 * new events from every feed reader for as long as any transaction is open anywhere in the
 * cluster (see feed.ts). A wait that is met early costs nothing, so deadlines are generous; only
 * a real failure waits that long, and then fails with a message naming what it waited for.
 */

/**
 * The deadline of one wait. Longer than another database's transaction should ever stay open
 * (scripts/busy-machine-test.sh keeps 20 s ones open back to back, on a CPU that is fully busy).
 */
export const DEADLINE_MS = 90_000;

/**
 * A Jest timeout for a test that may wait up to `waits` deadlines one after another, with room
 * for the rest of its work on a busy machine, so that the wait's own message reports a failure
 * rather than Jest's "Exceeded timeout".
 */
export function testTimeout(waits = 1): number {
  return waits * DEADLINE_MS + 60_000;
}

export interface WaitForOptions {
  /** What is awaited, for the failure message: "the ledger projection to reach position 42". */
  what: string;
  /** How long to keep trying (default DEADLINE_MS). */
  timeoutMs?: number;
  /** Pause between two checks (default 50 ms). */
  intervalMs?: number;
  /** The state last seen, added to the failure message. */
  seen?: () => string;
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/**
 * Checks `condition` until it returns something truthy, and returns that. An error thrown by
 * `condition` is a real failure and ends the wait at once; running out of time throws an error
 * that names `what`, how long it waited and, if given, what it saw last.
 */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitForOptions): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? DEADLINE_MS;
  const intervalMs = options.intervalMs ?? 50;
  const started = Date.now();
  for (;;) {
    const value = await condition();
    if (value) return value as Truthy<T>;
    const waitedMs = Date.now() - started;
    if (waitedMs >= timeoutMs) {
      const seen = options.seen ? `; last seen: ${options.seen()}` : '';
      throw new Error(`gave up after ${waitedMs} ms waiting for ${options.what}${seen}`);
    }
    // The pause between polls, not a synchronisation: the condition decides when the wait ends.
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(1, timeoutMs - waitedMs))));
  }
}
