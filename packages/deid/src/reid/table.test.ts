import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { isKuraError } from '@kura/core'
import { generateSecret, writeSecretFile } from '../keys/secret.ts'
import { ReidTable } from './table.ts'

const posix = process.platform !== 'win32'
const withDir = (fn: (dir: string) => void) => () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-reid-'))
  try {
    fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
const code = (c: string, re?: RegExp) => (e: unknown) => isKuraError(e) && e.code === c && (re === undefined || re.test(e.message))
const fixed = () => new Date('2026-01-02T03:04:05.000Z')

const YAMADA = { collection: 'lung-ct', pseudonymousPatientId: 'KURA7Q3XPZ2M9VHD', patientId: 'MRN-00424242', patientName: '山田^太郎', birthDate: '19630415' }
const SMITH = { collection: 'lung-ct', pseudonymousPatientId: 'KURAB8W1R4N6TCYE', patientId: 'MRN-00777001', patientName: 'Smitherson^Jonathan' }

test('record then lookup returns the entry with firstSeen; unknown pseudonyms and other collections → null', withDir((dir) => {
  const t = ReidTable.open(join(dir, 'reid.db'), generateSecret(), { now: fixed })
  t.record(YAMADA)
  t.record(SMITH)
  assert.deepEqual(t.lookup('lung-ct', YAMADA.pseudonymousPatientId), { ...YAMADA, firstSeen: '2026-01-02T03:04:05.000Z' })
  assert.deepEqual(t.lookup('lung-ct', SMITH.pseudonymousPatientId), { ...SMITH, firstSeen: '2026-01-02T03:04:05.000Z' })
  assert.equal(t.lookup('lung-ct', 'KURANOTTHERE0000'), null)
  assert.equal(t.lookup('brain-mr', YAMADA.pseudonymousPatientId), null)
  t.close()
}))

test('entries survive close and reopen with the same key', withDir((dir) => {
  const p = join(dir, 'reid.db')
  const key = generateSecret()
  const a = ReidTable.open(p, key)
  a.record(YAMADA)
  a.close()
  const b = ReidTable.open(p, key)
  assert.equal(b.lookup('lung-ct', YAMADA.pseudonymousPatientId)?.patientId, YAMADA.patientId)
  b.close()
}))

test('record is idempotent per (collection, pseudonym): the first entry and its firstSeen stay', withDir((dir) => {
  let clock = new Date('2026-01-01T00:00:00.000Z')
  const p = join(dir, 'reid.db')
  const t = ReidTable.open(p, generateSecret(), { now: () => clock })
  t.record(YAMADA)
  clock = new Date('2026-06-01T00:00:00.000Z')
  t.record(YAMADA)
  t.record({ ...YAMADA, patientName: '山田^太朗' })
  assert.deepEqual(t.lookup('lung-ct', YAMADA.pseudonymousPatientId), { ...YAMADA, firstSeen: '2026-01-01T00:00:00.000Z' })
  t.record({ ...YAMADA, collection: 'brain-mr' })
  assert.equal(t.lookup('brain-mr', YAMADA.pseudonymousPatientId)?.firstSeen, '2026-06-01T00:00:00.000Z')
  t.close()
  const db = new Database(p, { readonly: true })
  assert.equal((db.prepare('SELECT count(*) AS n FROM reid').get() as { n: number }).n, 2)
  db.close()
}))

test('the same pseudonym for a different patient is refused', withDir((dir) => {
  const t = ReidTable.open(join(dir, 'reid.db'), generateSecret())
  t.record(YAMADA)
  assert.throws(() => t.record({ ...YAMADA, patientId: 'MRN-99999999' }), code('DEID_REID_CONFLICT'))
  assert.equal(t.lookup('lung-ct', YAMADA.pseudonymousPatientId)?.patientId, YAMADA.patientId)
  t.close()
}))

test('a wrong key is rejected at open, naming the key file expected', withDir((dir) => {
  const p = join(dir, 'reid.db')
  const keyFile = join(dir, 'reid.key')
  writeSecretFile(keyFile)
  const t = ReidTable.openWithKeyFile(p, keyFile)
  t.record(YAMADA)
  t.close()
  assert.throws(() => ReidTable.open(p, generateSecret()), code('DEID_REID_WRONG_KEY', new RegExp(`key file ${keyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)))
  const again = ReidTable.openWithKeyFile(p, keyFile)
  assert.equal(again.lookup('lung-ct', YAMADA.pseudonymousPatientId)?.patientId, YAMADA.patientId)
  again.close()
}))

test('a wrong key is rejected even on an empty table, and short keys are refused', withDir((dir) => {
  const p = join(dir, 'reid.db')
  ReidTable.open(p, generateSecret()).close()
  assert.throws(() => ReidTable.open(p, generateSecret()), code('DEID_REID_WRONG_KEY', /fingerprint [0-9a-f]{16}/))
  assert.throws(() => ReidTable.open(join(dir, 'other.db'), new Uint8Array(16)), code('DEID_REID_BAD_KEY'))
}))

test('the raw file holds neither patient IDs, names (UTF-8, incl. Japanese) nor pseudonyms', withDir((dir) => {
  const p = join(dir, 'reid.db')
  const t = ReidTable.open(p, generateSecret())
  t.record(YAMADA)
  t.record(SMITH)
  assert.ok(t.lookup('lung-ct', SMITH.pseudonymousPatientId))
  t.close()
  for (const suffix of ['-journal', '-wal']) assert.equal(existsSync(p + suffix), false)
  const raw = readFileSync(p)
  assert.ok(raw.includes(Buffer.from('lung-ct')), 'sanity: the collection column is plain text')
  for (const needle of [YAMADA.patientId, '00424242', YAMADA.patientName, '山田', '太郎', YAMADA.pseudonymousPatientId, SMITH.patientId, SMITH.patientName, 'Smitherson', SMITH.pseudonymousPatientId, '19630415']) {
    assert.equal(raw.includes(Buffer.from(needle, 'utf8')), false, `file leaks ${needle}`)
    assert.equal(raw.includes(Buffer.from(needle, 'utf16le')), false, `file leaks ${needle} (UTF-16)`)
  }
}))

test('a flipped byte in sealed → DEID_REID_TAMPERED on lookup; other rows still read', withDir((dir) => {
  const p = join(dir, 'reid.db')
  const t = ReidTable.open(p, generateSecret())
  t.record(YAMADA)
  t.record(SMITH)
  const other = new Database(p)
  const rows = other.prepare('SELECT collection, pseudonym_lookup, sealed FROM reid').all() as { collection: string; pseudonym_lookup: string; sealed: Buffer }[]
  assert.equal(rows.length, 2)
  // the lookup hashes don't say which row is whose: flip one, expect exactly one lookup to fail and the other to read
  const victim = rows[0]
  const flipped = Buffer.from(victim.sealed)
  flipped[20] ^= 0x01
  other.prepare('UPDATE reid SET sealed = ? WHERE pseudonym_lookup = ?').run(flipped, victim.pseudonym_lookup)
  other.close()
  const results = [YAMADA, SMITH].map((e) => {
    try {
      return t.lookup(e.collection, e.pseudonymousPatientId)?.patientId
    } catch (err) {
      return isKuraError(err) ? err.code : String(err)
    }
  })
  assert.equal(results.filter((r) => r === 'DEID_REID_TAMPERED').length, 1, String(results))
  assert.equal(results.filter((r) => r === YAMADA.patientId || r === SMITH.patientId).length, 1, String(results))
  t.close()
}))

test('sealed values swapped between rows → DEID_REID_TAMPERED (AAD binds each to its lookup hash)', withDir((dir) => {
  const p = join(dir, 'reid.db')
  const t = ReidTable.open(p, generateSecret())
  t.record(YAMADA)
  t.record(SMITH)
  const other = new Database(p)
  const [a, b] = other.prepare('SELECT pseudonym_lookup, sealed FROM reid').all() as { pseudonym_lookup: string; sealed: Buffer }[]
  const upd = other.prepare('UPDATE reid SET sealed = ? WHERE pseudonym_lookup = ?')
  other.transaction(() => {
    upd.run(b.sealed, a.pseudonym_lookup)
    upd.run(a.sealed, b.pseudonym_lookup)
  })()
  other.close()
  assert.throws(() => t.lookup('lung-ct', YAMADA.pseudonymousPatientId), code('DEID_REID_TAMPERED'))
  assert.throws(() => t.lookup('lung-ct', SMITH.pseudonymousPatientId), code('DEID_REID_TAMPERED'))
  t.close()
}))

test('the file is created 0600, and a group/other-readable table is refused', { skip: !posix }, withDir((dir) => {
  const p = join(dir, 'reid.db')
  const old = process.umask(0o000)
  try {
    ReidTable.open(p, generateSecret()).close()
  } finally {
    process.umask(old)
  }
  assert.equal(statSync(p).mode & 0o777, 0o600)
  chmodSync(p, 0o640)
  assert.throws(() => ReidTable.open(p, generateSecret()), code('DEID_REID_INSECURE_FILE', /chmod 600/))
}))

test('a file that is not a table is reported, and a closed table refuses use', withDir((dir) => {
  const junk = join(dir, 'junk.db')
  // 0600 so the mode check passes and the format check is what fails
  writeFileSync(junk, 'this is not an SQLite database, just bytes long enough to look like a header. '.repeat(4), { mode: 0o600 })
  assert.throws(() => ReidTable.open(junk, generateSecret()), code('DEID_REID_UNREADABLE'))
  const t = ReidTable.open(join(dir, 'reid.db'), generateSecret())
  t.close()
  assert.throws(() => t.lookup('lung-ct', 'X'), code('DEID_REID_CLOSED'))
  assert.throws(() => t.record(YAMADA), code('DEID_REID_CLOSED'))
}))
