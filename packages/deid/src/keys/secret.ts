/** @module The site secret: the HMAC key behind every pseudonym and date shift, kept in a 0600 file on the gateway. */
import { randomBytes } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { KeyErrors } from './errors.ts'

/** 256 bits: the HMAC-SHA256 block is larger, the output size is the useful floor (RFC 2104 section 3). */
export const MIN_SECRET_BYTES = 32

/**
 * Secret file format, decided in this order on the file's bytes:
 *  1. hex text: after trimming ASCII whitespace, only [0-9a-fA-F] with an even count → the decoded bytes
 *     (this is what writeSecretFile writes: 64 hex digits and a newline);
 *  2. base64 text: after trimming, standard or URL-safe base64, padding optional → the decoded bytes;
 *  3. otherwise the raw file bytes, untouched.
 * Hex wins over base64 when text is both. Whatever the form, at least 32 bytes of key material must result.
 * Rotating the secret breaks every longitudinal link (PS3.15 E.3.6), so files are never overwritten here.
 */
export function decodeSecret(raw: Buffer): Buffer {
  const text = raw.toString('latin1').trim()
  if (text.length > 0 && text.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text)) return Buffer.from(text, 'hex')
  if (text.length > 0 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) && text.replace(/=+$/, '').length % 4 !== 1) {
    return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
  }
  return Buffer.from(raw)
}

/**
 * Reads and decodes a site secret. On POSIX the file must not be readable, writable or executable by group or
 * others (mode & 0o077 === 0): whoever holds the secret can re-link pseudonyms to patients (PS3.15 E.1.1 note on keys).
 */
export function loadSecret(path: string): Buffer {
  let raw: Buffer
  let mode: number
  try {
    mode = statSync(path).mode
    raw = readFileSync(path)
  } catch (e) {
    throw KeyErrors.unreadable(path, e)
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) throw KeyErrors.insecureFile(path, mode)
  const key = decodeSecret(raw)
  if (key.length < MIN_SECRET_BYTES) throw KeyErrors.tooShort(path, key.length)
  return key
}

/** 32 bytes from the OS CSPRNG. */
export function generateSecret(): Buffer {
  return randomBytes(MIN_SECRET_BYTES)
}

/**
 * Creates a new secret file (hex text + newline) with mode 0600. Refuses an existing file (flag 'wx'):
 * overwriting a site secret silently orphans every pseudonym made with it. Returns the key written.
 */
export function writeSecretFile(path: string, secret: Buffer = generateSecret()): Buffer {
  if (secret.length < MIN_SECRET_BYTES) throw KeyErrors.secretTooShort(secret.length)
  try {
    writeFileSync(path, `${secret.toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw KeyErrors.exists(path)
    throw KeyErrors.unreadable(path, e)
  }
  return Buffer.from(secret)
}
