/**
 * @module Object keys: the one validation both stores apply, so a key valid on the filesystem
 * is valid on S3 and the other way round, and no key can escape the filesystem store's root.
 */
import { StorageErrors } from '../errors.ts'

/** Throws STORAGE_INVALID_KEY unless `key` is a relative path of plain, non-dot-leading segments. */
export function assertValidKey(key: string): void {
  if (key.length === 0) throw StorageErrors.invalidKey(key, 'it is empty')
  if (key.length > 1024) throw StorageErrors.invalidKey(key.slice(0, 40) + '…', 'it is longer than 1024 characters')
  if (key.includes('\\') || key.includes('\0')) throw StorageErrors.invalidKey(key, 'it contains a backslash or NUL')
  for (const segment of key.split('/')) {
    if (segment === '') throw StorageErrors.invalidKey(key, 'it has an empty segment (leading, trailing or double "/")')
    // Dot-leading names are reserved: ".", ".." would escape the root, ".tmp" holds partial writes.
    if (segment.startsWith('.')) throw StorageErrors.invalidKey(key, `segment "${segment}" starts with "."`)
  }
}

/** A list prefix may end in "/" or be empty, but must not try to climb out either. */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix
  // A partial last segment ("sha256/a") is fine; only its leading dot matters.
  assertValidKey(trimmed)
}
