/**
 * @module Storage errors: every failure the object stores and the catalog report to callers.
 *
 * Codes are stable (STORAGE_… for objects, CATALOG_… for the database) so the hub and tests can
 * match on them; messages are safe to show a user and say what to do. Raw driver errors travel
 * only as `cause`, which is logged, never sent — they can contain hostnames and SQL.
 */
import { KuraError } from '@kura/core'

export const StorageErrors = {
  invalidKey: (key: string, why: string) =>
    new KuraError('STORAGE_INVALID_KEY', `Object key "${key}" is not valid: ${why}. Keys are relative paths of non-empty segments separated by "/".`, {
      status: 500,
      details: { key },
    }),
  checksumMismatch: (key: string, expected: string, actual: string) =>
    new KuraError(
      'STORAGE_CHECKSUM_MISMATCH',
      `The content for "${key}" has SHA-256 ${actual}, not the expected ${expected}; nothing was stored. Send the data again; if this keeps happening, it is being corrupted on the way.`,
      { status: 400, details: { key, expected, actual } },
    ),
  s3Unavailable: (endpoint: string, cause: unknown) =>
    new KuraError(
      'STORAGE_S3_UNAVAILABLE',
      `The S3 object store at ${endpoint} did not answer as expected. Check KURA_S3_ENDPOINT, the credentials and that the server is running.`,
      { status: 503, cause },
    ),
  bucketMissing: (bucket: string) =>
    new KuraError(
      'STORAGE_BUCKET_MISSING',
      `The S3 bucket "${bucket}" does not exist. Create it, or let Kura create it (createBucket: true).`,
      { status: 500, details: { bucket } },
    ),
  s3Failed: (op: string, key: string, cause: unknown) =>
    new KuraError('STORAGE_S3_FAILED', `The S3 object store failed to ${op} "${key}". Retry; if it persists, check the S3 server's logs.`, {
      status: 502,
      cause,
      details: { key },
    }),
} as const

export const CatalogErrors = {
  invalidUrl: (url: string) =>
    new KuraError(
      'CATALOG_URL_INVALID',
      `The catalog database URL must be "sqlite:<path>" or "postgres://…" (got "${url.split(':')[0]}:…").`,
      { status: 500 },
    ),
  unreachable: (where: string, cause: unknown) =>
    new KuraError(
      'CATALOG_UNREACHABLE',
      `Could not open the catalog database at ${where}. Check KURA_DATABASE_URL and that the database server is running and accepts the credentials.`,
      { status: 503, cause },
    ),
  migrationFailed: (name: string | undefined, cause: unknown) =>
    new KuraError(
      'CATALOG_MIGRATION_FAILED',
      `Upgrading the catalog schema failed${name ? ` at migration ${name}` : ''}; the catalog was left at its previous version. See the logged cause, fix it, and start again.`,
      { status: 500, cause },
    ),
  busy: (cause: unknown) =>
    new KuraError('CATALOG_BUSY', 'The catalog database stayed busy with other writers for too long. Retry the request.', {
      status: 503,
      cause,
    }),
  invalidRecord: (field: string) =>
    new KuraError('CATALOG_INVALID_RECORD', `Cannot catalog an instance without ${field}. Fix the data and store it again.`, {
      status: 400,
      details: { field },
    }),
  unsupportedKey: (key: string, level: string, supported: readonly string[]) =>
    new KuraError(
      'CATALOG_UNSUPPORTED_KEY',
      `"${key}" cannot be searched at the ${level} level. Searchable keys: ${supported.join(', ')}.`,
      { status: 400, details: { key, level } },
    ),
  invalidMatch: (key: string, why: string) =>
    new KuraError('CATALOG_INVALID_MATCH', `The condition on ${key} is not valid: ${why}.`, { status: 400, details: { key } }),
} as const
