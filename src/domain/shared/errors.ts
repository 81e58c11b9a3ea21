/**
 * A refused command: an operating error, returned to the caller with a stable code. The HTTP
 * status travels with it so the API layer needs no table of domain codes.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: 400 | 401 | 403 | 404 | 409 | 422 | 429 = 422,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** Crashes on a broken invariant: a programmer error, never an input error. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`invariant violated: ${message}`);
}
