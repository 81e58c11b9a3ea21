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
 * wake-up an empty read is retried every FAST_POLL_MS instead of waiting for the poll interval.
 */
const FAST_POLL_WINDOW_MS = 2000;
const FAST_POLL_MS = 20;

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

  const loop = async (): Promise<void> => {
    let checkpoint: bigint | undefined;
    let failures = 0;
    while (!abort.signal.aborted) {
      const generation = waker.current;
      try {
        if (checkpoint === undefined) checkpoint = await options.loadCheckpoint();
        const page = await readAll({
          after: checkpoint,
          limit: batchSize,
          ...(options.streamPrefixes ? { streamPrefixes: options.streamPrefixes } : {}),
          ...(options.eventTypes ? { eventTypes: options.eventTypes } : {}),
        });
        if (page.nextAfter !== checkpoint) {
          await options.handle(page.events, page.nextAfter);
          checkpoint = page.nextAfter;
        }
        failures = 0;
        if (page.isEnd) {
          const recentlyWoken = Date.now() - waker.lastNotifiedAtMs < FAST_POLL_WINDOW_MS;
          await waker.wait(generation, recentlyWoken ? Math.min(FAST_POLL_MS, pollIntervalMs) : pollIntervalMs, abort.signal);
        }
      } catch (error) {
        options.onError?.(error);
        // The stored checkpoint is the truth after a failure: the batch may or may not have committed.
        checkpoint = undefined;
        failures += 1;
        const backoffMs = Math.min(RETRY_BACKOFF_MAX_MS, RETRY_BACKOFF_MIN_MS * 2 ** Math.min(failures, 10));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoffMs);
          abort.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
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
