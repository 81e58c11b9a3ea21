import type { RecordedEvent } from '../eventstore/event-store';

/**
 * Projection lag: how long after an event was recorded a projection had applied it. A bounded
 * ring of recent samples gives the percentiles the admin endpoint and the benchmark report.
 */
export class LagTracker {
  private readonly samplesMs: number[] = [];
  private next = 0;
  appliedEvents = 0;
  lastAppliedAtMs = 0;

  constructor(private readonly capacity = 10_000) {}

  record(events: RecordedEvent[], nowMs = Date.now()): void {
    for (const event of events) {
      const lagMs = nowMs - event.recordedAt.getTime();
      if (this.samplesMs.length < this.capacity) this.samplesMs.push(lagMs);
      else this.samplesMs[this.next] = lagMs;
      this.next = (this.next + 1) % this.capacity;
    }
    this.appliedEvents += events.length;
    if (events.length > 0) this.lastAppliedAtMs = nowMs;
  }

  percentile(fraction: number): number | null {
    if (this.samplesMs.length === 0) return null;
    const sorted = [...this.samplesMs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
  }

  summary(): { appliedEvents: number; lagP50Ms: number | null; lagP99Ms: number | null; lastAppliedAt: string | null } {
    return {
      appliedEvents: this.appliedEvents,
      lagP50Ms: this.percentile(0.5),
      lagP99Ms: this.percentile(0.99),
      lastAppliedAt: this.lastAppliedAtMs ? new Date(this.lastAppliedAtMs).toISOString() : null,
    };
  }
}
