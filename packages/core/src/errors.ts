/**
 * @module KuraError: the one error type that crosses package and HTTP boundaries.
 *
 * `code` is stable (tests and clients match on it), `status` is the HTTP status the hub
 * sends, `message` is safe to show a user and says what to do, `cause` is logged, never sent.
 */
export class KuraError extends Error {
  readonly code: string
  readonly status: number
  readonly details?: Readonly<Record<string, unknown>>

  constructor(code: string, message: string, opts: { status?: number; cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'KuraError'
    this.code = code
    this.status = opts.status ?? 400
    this.details = opts.details
  }
}

export function isKuraError(e: unknown): e is KuraError {
  return e instanceof KuraError
}

/** An error as one line for a summary or a reason: a Kura error's message with its code, else the message. */
export function errorText(e: unknown): string {
  if (isKuraError(e)) return `${e.message} [${e.code}]`
  return (e as Error)?.message ?? String(e)
}

/** Codes owned by core. Other packages keep theirs in their own errors.ts. */
export const CoreErrors = {
  notFound: (what: string) => new KuraError('NOT_FOUND', `${what} was not found.`, { status: 404 }),
  rangeOutOfBounds: (offset: number, length: number, size: number) =>
    new KuraError('BYTE_RANGE_OUT_OF_BOUNDS', `Read of ${length} bytes at ${offset} is past the end of the source (${size} bytes).`, { status: 416 }),
  config: (message: string) => new KuraError('CONFIG_INVALID', message, { status: 500 }),
} as const
