import type { ReadAllOptions, ReadAllResult, RecordedEvent, SubscribeOptions } from './event-store';
import { runSubscription, Waker } from './subscription';

/**
 * The subscription loop every adapter shares, over an in-memory log that answers reads as the
 * stores' filtered readAll does (the events that match, and how far the read looked). The stores'
 * own subscription tests (postgres-event-store.int.spec.ts) run the same loop on PostgreSQL.
 */

interface Entry {
  position: bigint;
  mine: boolean;
}

function memoryLog() {
  const entries: Entry[] = [];
  const reads: number[] = [];
  return {
    entries,
    reads,
    append(mine: boolean): void {
      entries.push({ position: BigInt(entries.length), mine });
    },
    async readAll(options: ReadAllOptions): Promise<ReadAllResult> {
      reads.push(Date.now());
      const after = options.after ?? -1n;
      const seen = entries.filter((entry) => entry.position > after).slice(0, options.limit ?? 1000);
      const events = seen.filter((entry) => entry.mine).map((entry) => ({ globalPosition: entry.position }) as RecordedEvent);
      const last = seen[seen.length - 1];
      return { events, nextAfter: last ? last.position : after, isEnd: seen.length < (options.limit ?? 1000) };
    },
  };
}

interface Stored {
  atMs: number;
  events: number;
  nextAfter: bigint;
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A subscription over `log` that records every batch it stores, with the given gather and deferral. */
function recording(log: ReturnType<typeof memoryLog>, waker: Waker, options: Pick<SubscribeOptions, 'gatherMs' | 'emptyCheckpointDeferMs' | 'pollIntervalMs'>) {
  const stored: Stored[] = [];
  const handle = runSubscription((read) => log.readAll(read), waker, {
    name: 'test',
    pollIntervalMs: 20,
    ...options,
    loadCheckpoint: async () => stored[stored.length - 1]?.nextAfter ?? -1n,
    handle: async (events, nextAfter) => {
      stored.push({ atMs: Date.now(), events: events.length, nextAfter });
    },
  });
  return { stored, handle };
}

describe('runSubscription', () => {
  it('hands its own events over with the checkpoint at once, and puts off storing a checkpoint past pages with nothing for it', async () => {
    const log = memoryLog();
    const waker = new Waker();
    const { stored, handle } = recording(log, waker, { gatherMs: 1, emptyCheckpointDeferMs: 150 });
    try {
      // Others' events only: read and passed over, but the checkpoint is not stored before the deferral.
      const passedAtMs = Date.now();
      log.append(false);
      log.append(false);
      waker.notify();
      await until(() => stored.length === 1, 'the deferred checkpoint');
      expect(stored[0]).toMatchObject({ events: 0, nextAfter: 1n });
      expect(stored[0]!.atMs - passedAtMs).toBeGreaterThanOrEqual(150);

      // One of its own after more of others': handed over at once, with the checkpoint past all of them.
      log.append(false);
      log.append(true);
      waker.notify();
      await until(() => stored.length === 2, 'the batch with its own event');
      expect(stored[1]).toMatchObject({ events: 1, nextAfter: 3n });
    } finally {
      await handle.stop();
    }
  });

  it('stores the checkpoint past batches its handler answers false for (a partition\'s other streams) later, with no events, even while the log stays busy', async () => {
    const log = memoryLog();
    const waker = new Waker();
    const calls: Stored[] = [];
    const handle = runSubscription((read) => log.readAll(read), waker, {
      name: 'test',
      pollIntervalMs: 20,
      gatherMs: 5,
      idleGatherMaxMs: 5,
      emptyCheckpointDeferMs: 120,
      loadCheckpoint: async () => -1n,
      // Every event here is "another partition's": answered false, nothing stored, unless called with none.
      handle: async (events, nextAfter) => {
        calls.push({ atMs: Date.now(), events: events.length, nextAfter });
        return events.length > 0 ? false : undefined;
      },
    });
    try {
      const startedAtMs = Date.now();
      // A busy log: an event every 2 ms for 400 ms, none of them the handler's.
      while (Date.now() - startedAtMs < 400) {
        log.append(true);
        waker.notify();
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const storing = calls.filter((call) => call.events === 0);
      // Stored while the log stayed busy, never sooner than the deferral, and at most once per
      // deferral (400 ms / 120 ms), against a batch handed over every few milliseconds.
      expect(storing.length).toBeGreaterThanOrEqual(1);
      expect(storing.length).toBeLessThanOrEqual(4);
      expect(calls.length - storing.length).toBeGreaterThan(3);
      expect(storing[0]!.atMs - startedAtMs).toBeGreaterThanOrEqual(120);
      // Each one further on than the last.
      for (let index = 1; index < storing.length; index += 1) expect(storing[index]!.nextAfter).toBeGreaterThan(storing[index - 1]!.nextAfter);
    } finally {
      await handle.stop();
    }
  });

  it('carries on at once from the stored checkpoint when another runner moved it, reporting no error', async () => {
    const log = memoryLog();
    const waker = new Waker();
    let stored = -1n;
    const errors: unknown[] = [];
    const batches: bigint[] = [];
    let moveFirst = true;
    const handle = runSubscription((read) => log.readAll(read), waker, {
      name: 'test',
      pollIntervalMs: 20,
      gatherMs: 1,
      loadCheckpoint: async () => stored,
      onError: (error) => errors.push(error),
      handle: async (events, nextAfter) => {
        if (moveFirst) {
          // A catch-up beside this runner stored the checkpoint past these events first.
          moveFirst = false;
          stored = nextAfter;
          throw Object.assign(new Error('checkpoint moved'), { checkpointMoved: true });
        }
        batches.push(nextAfter);
        stored = nextAfter;
      },
    });
    try {
      log.append(true);
      log.append(true);
      waker.notify();
      await until(() => !moveFirst, 'the first batch');
      log.append(true);
      waker.notify();
      await until(() => batches.length === 1, 'the next batch');
      // Only the event after the moved checkpoint, never the two the other runner applied, and no error reported.
      expect(batches).toEqual([2n]);
      expect(errors).toEqual([]);
    } finally {
      await handle.stop();
    }
  });

  it('retries an empty read after a wake-up sooner than the poll interval, each time twice as late, and still finds an event a wake-up did not announce', async () => {
    const log = memoryLog();
    const waker = new Waker();
    const { stored, handle } = recording(log, waker, { gatherMs: 1, pollIntervalMs: 10_000 });
    try {
      await until(() => log.reads.length >= 1, 'the first read');
      // A wake-up whose event the feed does not show yet (held back behind an open transaction).
      const wokenAtMs = Date.now();
      waker.notify();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const reads = log.reads.filter((atMs) => atMs >= wokenAtMs);
      // Retries at about 0, 20, 60, 140, 300 and 620 ms: a 20 ms retry made fifty in this second.
      expect(reads.length).toBeGreaterThanOrEqual(3);
      expect(reads.length).toBeLessThanOrEqual(12);
      for (let index = 2; index < reads.length; index += 1) {
        expect(reads[index]! - reads[index - 1]!).toBeGreaterThanOrEqual(reads[index - 1]! - reads[index - 2]!);
      }
      // The event shows up with no wake-up of its own: a retry finds it long before the poll interval.
      log.append(true);
      const appendedAtMs = Date.now();
      await until(() => stored.length === 1, 'the event no wake-up announced', 5000);
      expect(stored[0]!.atMs - appendedAtMs).toBeLessThan(5000);
    } finally {
      await handle.stop();
    }
  });

  it('stores every page at once when the deferral is 0', async () => {
    const log = memoryLog();
    const waker = new Waker();
    const { stored, handle } = recording(log, waker, { gatherMs: 1, emptyCheckpointDeferMs: 0 });
    try {
      log.append(false);
      waker.notify();
      await until(() => stored.length === 1, 'the checkpoint');
      expect(stored[0]).toMatchObject({ events: 0, nextAfter: 0n });
    } finally {
      await handle.stop();
    }
  });

  it('reads at most once per gather time however often appends wake it, so the appends of that time make one batch', async () => {
    const log = memoryLog();
    const waker = new Waker();
    const batches: number[] = [];
    const handle = runSubscription((read) => log.readAll(read), waker, {
      name: 'test',
      pollIntervalMs: 1000,
      gatherMs: 50,
      loadCheckpoint: async () => -1n,
      handle: async (events) => {
        batches.push(events.length);
      },
    });
    try {
      await until(() => log.reads.length >= 1, 'the first read');
      const startedAtMs = Date.now();
      const readsBefore = log.reads.length;
      // An append and a wake-up every millisecond or so, for about 300 ms.
      for (let append = 0; append < 300; append += 1) {
        log.append(true);
        waker.notify();
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const elapsedMs = Date.now() - startedAtMs;
      await until(() => batches.reduce((sum, size) => sum + size, 0) === 300, 'every event handed over');
      // One read per 50 ms at most while woken (plus the one in flight when the burst began).
      expect(log.reads.length - readsBefore).toBeLessThanOrEqual(Math.ceil(elapsedMs / 50) + 2);
      expect(Math.max(...batches)).toBeGreaterThan(1);
    } finally {
      await handle.stop();
    }
  });

  it('reads less often while it passes over only others\' events, and at the gather time again once it finds its own', async () => {
    const log = memoryLog();
    const waker = new Waker();
    const handle = runSubscription((read) => log.readAll(read), waker, {
      name: 'test',
      pollIntervalMs: 1000,
      gatherMs: 10,
      idleGatherMaxMs: 160,
      emptyCheckpointDeferMs: 0,
      loadCheckpoint: async () => -1n,
      handle: async () => undefined,
    });
    const burst = async (mine: boolean, ms: number): Promise<number> => {
      const readsBefore = log.reads.length;
      const endsAtMs = Date.now() + ms;
      while (Date.now() < endsAtMs) {
        log.append(mine);
        waker.notify();
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return log.reads.length - readsBefore;
    };
    try {
      await until(() => log.reads.length >= 1, 'the first read');
      await burst(false, 400); // Backs off to 160 ms between reads.
      const othersOnly = await burst(false, 800);
      // Gather times 160 ms once backed off: a handful of reads in 800 ms, where 10 ms would allow 80.
      expect(othersOnly).toBeLessThanOrEqual(Math.ceil(800 / 160) + 2);
      await burst(true, 200); // Its own events: back to 10 ms as soon as one read finds them.
      const own = await burst(true, 800);
      expect(own).toBeGreaterThan(othersOnly);
    } finally {
      await handle.stop();
    }
  });
});
