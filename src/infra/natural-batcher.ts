/**
 * Natural batching: at most one batch is in flight, and the items that arrive while it runs go
 * together in the next one (up to `max`). A lone item goes at once; nothing waits on a timer.
 * `run` answers a batch's items in their order; when it throws, each item of that batch fails.
 *
 * Under load, N concurrent requests for the same kind of read cost one round trip instead of N,
 * as group commit does for appends. Every item's batch starts after the item was submitted, so
 * its answer is as fresh as a lone query's would be.
 *
 * Hand-written rather than taken from `dataloader`: that package is not a dependency, it batches
 * per tick rather than per in-flight query, and this is 40 lines.
 */

interface Waiting<Item, Answer> {
  item: Item;
  resolve(answer: Answer): void;
  reject(error: unknown): void;
}

export class NaturalBatcher<Item, Answer> {
  private waiting: Array<Waiting<Item, Answer>> = [];
  private inFlight = false;
  /** Batches run so far and the items they carried (for tests and benchmarks). */
  readonly stats = { batches: 0, items: 0 };

  constructor(
    private readonly run: (items: Item[]) => Promise<Answer[]>,
    private readonly max: number,
  ) {}

  submit(item: Item): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.inFlight) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.inFlight = true;
    try {
      // Bounded: each turn takes up to `max` of the items waiting, and the loop ends when none
      // are left; requests keep arriving only as fast as the service accepts them.
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, this.max);
        try {
          const answers = await this.run(batch.map((waiting) => waiting.item));
          this.stats.batches += 1;
          this.stats.items += batch.length;
          batch.forEach((waiting, index) => waiting.resolve(answers[index]!));
        } catch (error) {
          for (const waiting of batch) waiting.reject(error);
        }
      }
    } finally {
      this.inFlight = false;
    }
  }
}
