/**
 * @module ReidTable: the site's only link from pseudonyms back to real patients. It lives on the gateway, is sealed
 * at rest with a key the operator holds, and is never part of any upload.
 *
 * Storage: one SQLite file (better-sqlite3), mode 0600, with
 *  - `reid(collection, pseudonym_lookup, sealed)`: `pseudonym_lookup` = hex HMAC-SHA256(K_lookup, collection + '\0' +
 *    pseudonym), so a lookup needs the key and the file reveals no pseudonym; `sealed` = nonce(12) ‖ AES-256-GCM
 *    ciphertext ‖ tag(16) of the JSON entry, with AAD = the lookup hash, so a sealed value moved to another row fails.
 *  - `meta(name, value)`: format version, a key-check value (a fixed marker sealed with K_enc), a key fingerprint
 *    and, when known, the key file path, so a wrong key is reported at open with the key file that is expected.
 *  - `uid(collection, uid_lookup, sealed)`: the same for new UIDs (`uid_lookup` = HMAC over 'uid\0' + collection + '\0' +
 *    new UID), sealing the original UID and the subject's pseudonym, so a lookup request may name an object by UID.
 * K_lookup, K_enc, K_audit and the fingerprint come from the operator key by HKDF-SHA256 with distinct `info` strings.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import { isKuraError } from '@kura/core'
import { loadSecret, MIN_SECRET_BYTES } from '../keys/secret.ts'
import { ReidErrors } from './errors.ts'

export interface ReidEntry {
  collection: string
  pseudonymousPatientId: string
  patientId: string
  patientName?: string
  birthDate?: string
  /** ISO 8601 instant of the first record() for this (collection, pseudonym). */
  firstSeen: string
}

/** A new UID written by de-identification and the original it replaced (Study, Series or SOP Instance UID). */
export interface ReidUidEntry {
  collection: string
  newUid: string
  originalUid: string
  /** The subject the object belongs to, for the patient entry. */
  pseudonymousPatientId: string
  /** The attribute, e.g. StudyInstanceUID. */
  keyword: string
  firstSeen: string
}

export interface ReidOpenOptions {
  /** Path of the operator key file; stored on creation so a wrong-key error can name the file expected. */
  keyFile?: string
  /** Refuse to create the table when it does not exist (lookups: a typo must not make an empty table). */
  mustExist?: boolean
  /** Clock for firstSeen (tests). */
  now?: () => Date
}

export const REID_FORMAT = 'kura-reid-v1'
const INFO_LOOKUP = 'kura reid v1 lookup-hmac'
const INFO_ENC = 'kura reid v1 aes-256-gcm'
const INFO_ID = 'kura reid v1 key-fingerprint'
const INFO_AUDIT = 'kura reid v1 audit-hmac'
const KEY_CHECK_MARKER = 'kura re-identification table key check v1'
const KEY_CHECK_AAD = 'kura reid key-check'
const NONCE = 12
const TAG = 16

const derive = (key: Uint8Array, info: string, len = 32): Buffer => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, len))

function seal(k: Buffer, plain: Buffer, aad: string): Buffer {
  const nonce = randomBytes(NONCE)
  const c = createCipheriv('aes-256-gcm', k, nonce)
  c.setAAD(Buffer.from(aad, 'utf8'))
  const body = Buffer.concat([c.update(plain), c.final()])
  return Buffer.concat([nonce, body, c.getAuthTag()])
}

/** Returns null when authentication fails (wrong key, altered bytes, wrong AAD). */
function open(k: Buffer, sealed: unknown, aad: string): Buffer | null {
  if (!Buffer.isBuffer(sealed) || sealed.length < NONCE + TAG) return null
  try {
    const d = createDecipheriv('aes-256-gcm', k, sealed.subarray(0, NONCE))
    d.setAAD(Buffer.from(aad, 'utf8'))
    d.setAuthTag(sealed.subarray(sealed.length - TAG))
    return Buffer.concat([d.update(sealed.subarray(NONCE, sealed.length - TAG)), d.final()])
  } catch {
    return null
  }
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0
const optStr = (v: unknown): boolean => v === undefined || typeof v === 'string'

export class ReidTable {
  #db: Database.Database | null
  readonly #path: string
  readonly #kLookup: Buffer
  readonly #kEnc: Buffer
  readonly #kAudit: Buffer
  readonly #now: () => Date

  private constructor(db: Database.Database, path: string, key: Uint8Array, now: () => Date) {
    this.#db = db
    this.#path = path
    this.#kLookup = derive(key, INFO_LOOKUP)
    this.#kEnc = derive(key, INFO_ENC)
    this.#kAudit = derive(key, INFO_AUDIT)
    this.#now = now
  }

  /** Opens the table at `path`, creating it (mode 0600) if missing. Refuses a group/other-accessible file and a wrong key. */
  static open(path: string, key: Uint8Array, opts: ReidOpenOptions = {}): ReidTable {
    if (key.length < MIN_SECRET_BYTES) throw ReidErrors.badKey(key.length)
    let created = false
    if (opts.mustExist && !existsSync(path)) throw ReidErrors.missing(path)
    try {
      writeFileSync(path, '', { mode: 0o600, flag: 'wx' })
      created = true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ReidErrors.unreadable(path, e)
    }
    if (!created && process.platform !== 'win32') {
      const mode = statSync(path).mode
      if ((mode & 0o077) !== 0) throw ReidErrors.insecureFile(path, mode)
    }
    const kEnc = derive(key, INFO_ENC)
    const fingerprint = derive(key, INFO_ID, 8).toString('hex')
    let db: Database.Database | undefined
    try {
      db = new Database(path, { fileMustExist: true })
      db.pragma('secure_delete = ON')
      db.exec(`CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS reid (
          collection TEXT NOT NULL,
          pseudonym_lookup TEXT NOT NULL,
          sealed BLOB NOT NULL,
          PRIMARY KEY (collection, pseudonym_lookup)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS uid (
          collection TEXT NOT NULL,
          uid_lookup TEXT NOT NULL,
          sealed BLOB NOT NULL,
          PRIMARY KEY (collection, uid_lookup)
        ) WITHOUT ROWID;`)
      const meta = (name: string): unknown => (db!.prepare('SELECT value FROM meta WHERE name = ?').get(name) as { value: unknown } | undefined)?.value
      const init = db.transaction(() => {
        if (meta('key_check') !== undefined) return
        const put = db!.prepare('INSERT INTO meta (name, value) VALUES (?, ?)')
        put.run('format', REID_FORMAT)
        put.run('key_fingerprint', fingerprint)
        if (opts.keyFile !== undefined) put.run('key_file', opts.keyFile)
        put.run('key_check', seal(kEnc, Buffer.from(KEY_CHECK_MARKER, 'utf8'), KEY_CHECK_AAD))
      })
      init.immediate()
      const format = meta('format')
      if (format !== REID_FORMAT) throw ReidErrors.unreadable(path, new Error(`format ${String(format)}`))
      const check = open(kEnc, meta('key_check'), KEY_CHECK_AAD)
      if (check === null || check.toString('utf8') !== KEY_CHECK_MARKER) {
        const keyFile = meta('key_file')
        throw ReidErrors.wrongKey(path, { keyFile: typeof keyFile === 'string' ? keyFile : undefined, fingerprint: String(meta('key_fingerprint')) }, fingerprint)
      }
    } catch (e) {
      db?.close()
      if (isKuraError(e)) throw e
      throw ReidErrors.unreadable(path, e)
    }
    return new ReidTable(db, path, key, opts.now ?? (() => new Date()))
  }

  /** Opens the table with the operator key read from `keyFile` by loadSecret (0600 check, hex/base64/raw forms). */
  static openWithKeyFile(path: string, keyFile: string, opts: Omit<ReidOpenOptions, 'keyFile'> = {}): ReidTable {
    return ReidTable.open(path, loadSecret(keyFile), { ...opts, keyFile })
  }

  #handle(): Database.Database {
    if (this.#db === null) throw ReidErrors.closed()
    return this.#db
  }

  #lookupHash(collection: string, pseudonym: string): string {
    return createHmac('sha256', this.#kLookup).update(`${collection}\0${pseudonym}`, 'utf8').digest('hex')
  }

  /** Opens a sealed entry (bound to its lookup hash); anything that does not open or parse was tampered with. */
  #unseal(sealed: unknown, hash: string, collection: string): Record<string, unknown> {
    const plain = open(this.#kEnc, sealed, hash)
    if (plain === null) throw ReidErrors.tampered(this.#path, collection)
    try {
      const e = JSON.parse(plain.toString('utf8')) as unknown
      if (e !== null && typeof e === 'object') return e as Record<string, unknown>
    } catch {
      // falls through: not JSON
    }
    throw ReidErrors.tampered(this.#path, collection)
  }

  #read(db: Database.Database, collection: string, pseudonym: string, hash: string): ReidEntry | null {
    const row = db.prepare('SELECT sealed FROM reid WHERE collection = ? AND pseudonym_lookup = ?').get(collection, hash) as { sealed: unknown } | undefined
    if (row === undefined) return null
    const e = this.#unseal(row.sealed, hash, collection)
    if (
      e.collection !== collection || e.pseudonymousPatientId !== pseudonym ||
      !str(e.patientId) || !str(e.firstSeen) || !optStr(e.patientName) || !optStr(e.birthDate)
    ) {
      throw ReidErrors.tampered(this.#path, collection)
    }
    const out: ReidEntry = { collection, pseudonymousPatientId: pseudonym, patientId: e.patientId, firstSeen: e.firstSeen }
    if (e.patientName !== undefined) out.patientName = e.patientName as string
    if (e.birthDate !== undefined) out.birthDate = e.birthDate as string
    return out
  }

  /**
   * Records the link once per (collection, pseudonymousPatientId); later calls for the same patient are no-ops and keep
   * the first entry (and its firstSeen). The same pseudonym for a different patientId → DEID_REID_CONFLICT.
   */
  record(e: Omit<ReidEntry, 'firstSeen'>): void {
    const db = this.#handle()
    for (const f of ['collection', 'pseudonymousPatientId', 'patientId'] as const) if (!str(e[f])) throw ReidErrors.badEntry(f)
    for (const f of ['patientName', 'birthDate'] as const) if (!optStr(e[f])) throw ReidErrors.badEntry(f)
    const hash = this.#lookupHash(e.collection, e.pseudonymousPatientId)
    const tx = db.transaction(() => {
      const existing = this.#read(db, e.collection, e.pseudonymousPatientId, hash)
      if (existing !== null) {
        if (existing.patientId !== e.patientId) throw ReidErrors.conflict(this.#path, e.collection)
        return
      }
      const entry: ReidEntry = {
        collection: e.collection,
        pseudonymousPatientId: e.pseudonymousPatientId,
        patientId: e.patientId,
        ...(e.patientName !== undefined ? { patientName: e.patientName } : {}),
        ...(e.birthDate !== undefined ? { birthDate: e.birthDate } : {}),
        firstSeen: this.#now().toISOString(),
      }
      const sealed = seal(this.#kEnc, Buffer.from(JSON.stringify(entry), 'utf8'), hash)
      db.prepare('INSERT INTO reid (collection, pseudonym_lookup, sealed) VALUES (?, ?, ?)').run(e.collection, hash, sealed)
    })
    tx.immediate()
  }

  /** The entry for this pseudonym in this collection, or null. An altered or moved row → DEID_REID_TAMPERED. */
  lookup(collection: string, pseudonymousPatientId: string): ReidEntry | null {
    const db = this.#handle()
    return this.#read(db, collection, pseudonymousPatientId, this.#lookupHash(collection, pseudonymousPatientId))
  }

  #uidHash(collection: string, newUid: string): string {
    return createHmac('sha256', this.#kLookup).update(`uid\0${collection}\0${newUid}`, 'utf8').digest('hex')
  }

  #readUid(db: Database.Database, collection: string, newUid: string, hash: string): ReidUidEntry | null {
    const row = db.prepare('SELECT sealed FROM uid WHERE collection = ? AND uid_lookup = ?').get(collection, hash) as { sealed: unknown } | undefined
    if (row === undefined) return null
    const e = this.#unseal(row.sealed, hash, collection)
    if (e.collection !== collection || e.newUid !== newUid || !str(e.originalUid) || !str(e.pseudonymousPatientId) || !str(e.keyword) || !str(e.firstSeen)) {
      throw ReidErrors.tampered(this.#path, collection)
    }
    return { collection, newUid, originalUid: e.originalUid, pseudonymousPatientId: e.pseudonymousPatientId, keyword: e.keyword, firstSeen: e.firstSeen }
  }

  /** Records which original UID a new UID replaced, once per (collection, new UID); a different original → DEID_REID_CONFLICT. */
  recordUid(e: Omit<ReidUidEntry, 'firstSeen'>): void {
    const db = this.#handle()
    for (const f of ['collection', 'newUid', 'originalUid', 'pseudonymousPatientId', 'keyword'] as const) if (!str(e[f])) throw ReidErrors.badEntry(f)
    const hash = this.#uidHash(e.collection, e.newUid)
    const tx = db.transaction(() => {
      const existing = this.#readUid(db, e.collection, e.newUid, hash)
      if (existing !== null) {
        if (existing.originalUid !== e.originalUid) throw ReidErrors.conflict(this.#path, e.collection)
        return
      }
      const entry: ReidUidEntry = { ...e, firstSeen: this.#now().toISOString() }
      db.prepare('INSERT INTO uid (collection, uid_lookup, sealed) VALUES (?, ?, ?)').run(e.collection, hash, seal(this.#kEnc, Buffer.from(JSON.stringify(entry), 'utf8'), hash))
    })
    tx.immediate()
  }

  /** The original UID behind a new UID in this collection, or null. */
  lookupUid(collection: string, newUid: string): ReidUidEntry | null {
    const db = this.#handle()
    return this.#readUid(db, collection, newUid, this.#uidHash(collection, newUid))
  }

  /**
   * A keyed digest (hex HMAC-SHA256 under a key derived from the operator key) of a value asked for, for the lookup
   * audit log: equal requests give equal digests, so an auditor holding the key can tell what was asked, while the
   * log itself names no pseudonym or UID.
   */
  auditDigest(value: string): string {
    return createHmac('sha256', this.#kAudit).update(value, 'utf8').digest('hex')
  }

  close(): void {
    this.#db?.close()
    this.#db = null
  }
}
