/**
 * Operating errors of the event store, the same for every adapter. Each carries a stable code
 * that the API maps to an HTTP status and that clients can switch on.
 */

export abstract class EventStoreError extends Error {
  abstract readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** The stream is not at the expected revision. Nothing was written; re-read and retry. */
export class ConcurrencyError extends EventStoreError {
  readonly code = 'EVENTSTORE.WRONG_EXPECTED_REVISION';

  constructor(
    readonly streamId: string,
    readonly expected: string,
    /** The stream's actual last revision, or 'no_stream'. */
    readonly actual: string,
  ) {
    super(`stream ${streamId}: expected revision ${expected}, actual ${actual}`, { streamId, expected, actual });
  }
}

/** Bad input: nothing was written. */
export class EventStoreValidationError extends EventStoreError {
  constructor(
    readonly code: string,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(message, details);
  }
}

/** An event id is already stored with different content, or only part of a batch was stored before. */
export class EventIdConflictError extends EventStoreError {
  readonly code = 'EVENTSTORE.EVENT_ID_CONFLICT';

  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, details);
  }
}
