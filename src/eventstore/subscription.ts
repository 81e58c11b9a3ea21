import type { ReadAllOptions, ReadAllResult, SubscribeOptions, SubscriptionHandle } from './event-store';

/**
 * Wakes waiting subscriptions when new events may be visible. A generation counter closes the
 * race between "read found nothing" and "start waiting": a wake-up that arrives in between
 * advances the generation, and the wait returns at once.
 */
export class Waker {
  private generation = 0;
  private waiters = new Set<() => void>();
  /** When the last wake-up arrived (ms since the epoch). */
  lastNotifiedAtMs = 0;

  get current(): number {
    return this.generation;
  }

  notify(): void {
    this.generation += 1;
    this.lastNotifiedAtMs = Date.now();
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const resolve of waiting) resolve();
  }

  /** Resolves when notified after `sinceGeneration`, after `timeoutMs`, or when `signal` aborts. */
  wait(sinceGeneration: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.generation !== sinceGeneration || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }
}

const RETRY_BACKOFF_MIN_MS = 100;
const RETRY_BACKOFF_MAX_MS = 10_000;
/**
 * A wake-up means something committed, but a reader may not see it at once: the PostgreSQL feed
 * stops below the oldest transaction still open anywhere in the cluster. For this long after a
 * wake-up an empty read is retried sooner than the poll interval: FAST_POLL_MS after the read that
 * followed the wake-up, then twice as long after each read that finds nothing new. A fixed 20 ms
 * retry cost every subscription a hundred empty reads per wake-up: a single event on a quiet
 * service made its dozen subscriptions send over a thousand feed queries in two seconds. Doubling
 * keeps the first retries as prompt and makes about seven reads of the window.
 */
const FAST_POLL_WINDOW_MS = 2000;
const FAST_POLL_MS = 20;

/**
 * Under load every append wakes every subscription, and a subscription that reads at each wake-up
 * commits a transaction per command for a batch of one or two events (bench:checkin measured 3.6
 * PostgreSQL transactions per check-in, most of them projections'). So a subscription reads at
 * most once per GATHER_MS: a wake-up that comes sooner after the last read waits out the rest,
 * and the events appended meanwhile become one batch. An event appended to an idle log is read at
 * once; the price under load is at most GATHER_MS of extra projection lag. 50 ms rather than 20:
 * in alternating bench:checkin runs it cut the service's statements per command at 16 clients
 * from 2.44-2.50 to 2.03-2.07, with 5-69 ms more ledger lag at p99 (docs/EVENT-STORE.md).
 */
export const GATHER_MS = 50;
/**
 * A filtered subscription (streamPrefixes, eventTypes) mostly reads pages with nothing for it
 * while other contexts are busy, and a partition's handler answers false for pages of other
 * partitions' streams (SubscribeOptions.handle). Storing the checkpoint past such a page is a
 * transaction that changes nothing else, so it is put off for up to this long; the events of the
 * next page that matters, or the first page (or idle moment) once this has passed, store it. A
 * restart before that rereads the pages it passed over, which hold nothing for it, so nothing is
 * applied twice.
 */
export const EMPTY_CHECKPOINT_DEFER_MS = 250;
/**
 * A subscription whose last reads passed over events and found nothing for it (the mall's
 * projection while members check in) lengthens its gather time, doubling per such read up to
 * this, and is back at GATHER_MS as soon as a read finds something. Its first event after a quiet
 * spell is read this much later at most, while the busy contexts' subscriptions are unaffected.
 */
export const IDLE_GATHER_MAX_MS = 200;

/**
 * The catch-up subscription loop every adapter shares: read a page after the checkpoint, hand it
 * to the handler (which stores the checkpoint with its rows), and wait for a wake-up or the poll
 * interval when the log is drained. A failed batch is retried from the stored checkpoint with
 * exponential back-off, so a batch is either applied with its checkpoint or not at all.
 */
export function runSubscription(
  readAll: (options: ReadAllOptions) => Promise<ReadAllResult>,
  waker: Waker,
  options: SubscribeOptions,
): SubscriptionHandle {
  const abort = new AbortController();
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const batchSize = options.batchSize ?? 500;
  const gatherMinMs = options.gatherMs ?? GATHER_MS;
  const gatherMaxMs = Math.max(gatherMinMs, options.idleGatherMaxMs ?? IDLE_GATHER_MAX_MS);
  const deferMs = options.emptyCheckpointDeferMs ?? EMPTY_CHECKPOINT_DEFER_MS;
  const sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      if (abort.signal.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      abort.signal.addEventListener('abort', done, { once: true });
    });

  const loop = async (): Promise<void> => {
    /** Where the next read starts: the stored checkpoint, or past it by pages with nothing for this subscription. */
    let readFrom: bigint | undefined;
    /** Since when readFrom is ahead of the stored checkpoint (pages passed over and not stored yet). */
    let unstoredSinceMs: number | undefined;
    let lastReadAtMs = 0;
    let gatherMs = gatherMinMs;
    let failures = 0;
    /** The wake-up generation of the previous read, and how many reads since a wake-up found nothing new (FAST_POLL_MS). */
    let previousGeneration = waker.current;
    let emptySinceWakeUp = 0;
    while (!abort.signal.aborted) {
      const generation = waker.current;
      const wokenSinceLastRead = generation !== previousGeneration;
      previousGeneration = generation;
      try {
        if (readFrom === undefined) readFrom = await options.loadCheckpoint();
        lastReadAtMs = Date.now();
        const page = await readAll({
          after: readFrom,
          limit: batchSize,
          ...(options.streamPrefixes ? { streamPrefixes: options.streamPrefixes } : {}),
          ...(options.eventTypes ? { eventTypes: options.eventTypes } : {}),
        });
        const moved = page.nextAfter !== readFrom;
        let foundOwn = page.events.length > 0;
        if (moved) {
          unstoredSinceMs ??= Date.now();
          let stored = false;
          if (page.events.length > 0) {
            // false: nothing in the page was the handler's and it stored nothing (SubscribeOptions.handle).
            stored = (await options.handle(page.events, page.nextAfter)) !== false;
            foundOwn = stored;
          }
          if (!stored && Date.now() - unstoredSinceMs >= deferMs) {
            await options.handle([], page.nextAfter);
            stored = true;
          }
          if (stored) unstoredSinceMs = undefined;
          readFrom = page.nextAfter;
        } else if (unstoredSinceMs !== undefined && Date.now() - unstoredSinceMs >= deferMs) {
          // Idle, with pages passed over and not stored: store them now.
          await options.handle([], readFrom);
          unstoredSinceMs = undefined;
        }
        // Only a read that passed over other subscriptions' events counts as finding nothing: an
        // empty read of a quiet log says nothing about how busy the log is.
        if (foundOwn) gatherMs = gatherMinMs;
        else if (moved) gatherMs = Math.min(gatherMaxMs, gatherMs * 2);
        failures = 0;
        emptySinceWakeUp = moved || wokenSinceLastRead ? 0 : emptySinceWakeUp + 1;
        if (page.isEnd) {
          const recentlyWoken = Date.now() - waker.lastNotifiedAtMs < FAST_POLL_WINDOW_MS;
          let waitMs = recentlyWoken ? Math.min(FAST_POLL_MS * 2 ** Math.min(emptySinceWakeUp, 16), pollIntervalMs) : pollIntervalMs;
          if (unstoredSinceMs !== undefined) waitMs = Math.max(0, Math.min(waitMs, unstoredSinceMs + deferMs - Date.now()));
          await waker.wait(generation, waitMs, abort.signal);
          const sinceRead = Date.now() - lastReadAtMs;
          if (sinceRead < gatherMs) await sleep(gatherMs - sinceRead);
        }
      } catch (error) {
        // The stored checkpoint is the truth after a failure: the batch may or may not have committed.
        readFrom = undefined;
        unstoredSinceMs = undefined;
        // Another runner moved the checkpoint (SubscribeOptions.handle): nothing failed, go on from where it is.
        if ((error as { checkpointMoved?: unknown } | null)?.checkpointMoved === true) continue;
        options.onError?.(error);
        failures += 1;
        const backoffMs = Math.min(RETRY_BACKOFF_MAX_MS, RETRY_BACKOFF_MIN_MS * 2 ** Math.min(failures, 10));
        await sleep(backoffMs);
      }
    }
  };

  const running = loop();
  return {
    async stop() {
      abort.abort();
      await running;
    },
  };
}
