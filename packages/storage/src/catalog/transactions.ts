/**
 * @module Transaction helpers: retrying what concurrency (not the data) made fail.
 *
 * On PostgreSQL several processes write at once. Statements are ordered so they rarely collide,
 * but a deadlock, a serialization failure, a unique key won by another writer, or a foreign key
 * whose parent a concurrent delete just removed all mean "run it again", and the second run sees
 * the winner's committed rows. SQLite has one writer at a time: a lock still held after the
 * 5 s busy_timeout is reported as CATALOG_BUSY instead.
 */
import { CatalogErrors } from '../errors.ts'

/** PostgreSQL SQLSTATEs worth retrying: deadlock, serialization, unique and foreign-key races. */
const RETRYABLE = new Set(['40P01', '40001', '23505', '23503'])

export async function withRetry<T>(fn: () => Promise<T>, attempts = 6): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (e) {
      const code = (e as { code?: unknown })?.code
      if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) throw CatalogErrors.busy(e)
      if (attempt >= attempts || typeof code !== 'string' || !RETRYABLE.has(code)) throw e
      // Jittered backoff so the colliding writers do not collide again in lockstep.
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt))
    }
  }
}

/** Thrown inside a transaction to roll it back while still returning a result to the caller. */
export class RollbackWith<T> extends Error {
  constructor(readonly result: T) {
    super('transaction rolled back with a result')
  }
}

export async function rollbackAware<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (e) {
    if (e instanceof RollbackWith) return e.result as T
    throw e
  }
}
