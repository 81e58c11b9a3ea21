import type {
  AppendOptions,
  AppendResult,
  EventStore,
  EventToAppend,
  ReadAllOptions,
  ReadAllResult,
  ReadStreamOptions,
  RecordedEvent,
  StreamAppend,
  StreamAppendOutcome,
  SubscribeOptions,
  SubscriptionHandle,
} from './event-store';

/**
 * Turns an event as it was stored (at its schema version) into the shape readers expect now.
 * Stored events never change; an upcaster changes only what a reader sees, so hash chains, which
 * cover the stored bytes, are untouched. An upcaster must return the event itself when it has
 * nothing to do, and must be safe to apply twice.
 */
export type Upcaster = (event: RecordedEvent) => RecordedEvent;

/**
 * The event store with upcasters applied on every read path (readStream, readAll, subscribe).
 * Appends (single and multi-stream) pass through unchanged. The composition root wraps whichever adapter it chose in this,
 * so command handlers, projections and queries all read the current shapes.
 */
export class UpcastingEventStore implements EventStore {
  constructor(
    private readonly inner: EventStore,
    private readonly upcasters: readonly Upcaster[],
  ) {}

  get adapterName(): string {
    return this.inner.adapterName;
  }

  private upcast = (event: RecordedEvent): RecordedEvent => this.upcasters.reduce((current, upcaster) => upcaster(current), event);

  appendToStream(streamId: string, events: EventToAppend[], options?: AppendOptions): Promise<AppendResult> {
    return this.inner.appendToStream(streamId, events, options);
  }

  appendToStreams(appends: readonly StreamAppend[]): Promise<AppendResult[]> {
    return this.inner.appendToStreams(appends);
  }

  appendEach(appends: readonly StreamAppend[]): Promise<StreamAppendOutcome[]> {
    return this.inner.appendEach(appends);
  }

  async readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return (await this.inner.readStream(streamId, options)).map(this.upcast);
  }

  async readAll(options?: ReadAllOptions): Promise<ReadAllResult> {
    const page = await this.inner.readAll(options);
    return { ...page, events: page.events.map(this.upcast) };
  }

  subscribe(options: SubscribeOptions): SubscriptionHandle {
    return this.inner.subscribe({ ...options, handle: (events, nextAfter) => options.handle(events.map(this.upcast), nextAfter) });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
