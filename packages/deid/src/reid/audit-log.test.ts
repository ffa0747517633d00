import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CHAIN_GENESIS, isKuraError } from '@kura/core'
import { generateSecret } from '../keys/secret.ts'
import { appendAudit, auditLogPath, verifyAuditLog, type LookupAuditBody } from './audit-log.ts'
import { ReidTable } from './table.ts'

const body = (i: number): LookupAuditBody => ({ at: `2026-01-0${i}T00:00:00.000Z`, who: 'op', reason: i % 2 ? `REQ-${i}` : null, collection: 'c', kind: 'pseudonym', asked: 'ab'.repeat(32), outcome: 'found' })

test('audit log: entries chain from genesis; edits, removals, reorders and damaged lines are found', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-audit-'))
  try {
    const log = auditLogPath(join(dir, 'reid.db'))
    assert.equal(log, join(dir, 'reid.db.audit.jsonl'))
    assert.deepEqual(verifyAuditLog(log), { entries: 0, head: CHAIN_GENESIS, broken: null })
    const a = appendAudit(log, body(1))
    assert.equal(a.prev, CHAIN_GENESIS)
    const b = appendAudit(log, body(2))
    assert.equal(b.prev, a.hash)
    appendAudit(log, body(3))
    if (process.platform !== 'win32') assert.equal(statSync(log).mode & 0o777, 0o600)
    const good = verifyAuditLog(log)
    assert.equal(good.entries, 3)
    assert.equal(good.broken, null)
    const lines = readFileSync(log, 'utf8').trim().split('\n')
    const check = (content: string[]) => {
      writeFileSync(log, content.join('\n') + '\n')
      return verifyAuditLog(log).broken
    }
    assert.equal(check([lines[0]!, lines[1]!.replace('"who":"op"', '"who":"someone"'), lines[2]!])?.index, 1)
    assert.match(check([lines[0]!, lines[2]!])!.reason, /link to the previous entry/)
    assert.equal(check([lines[1]!, lines[0]!, lines[2]!])?.index, 0)
    assert.match(check([lines[0]!, '{"truncated', lines[2]!])!.reason, /not a JSON entry/)
    // Dropping the last entry keeps the chain whole: only a head hash kept elsewhere shows it.
    writeFileSync(log, lines.slice(0, 2).join('\n') + '\n')
    const shorter = verifyAuditLog(log)
    assert.equal(shorter.broken, null)
    assert.notEqual(shorter.head, good.head)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('reid table: new UIDs lead back to their originals; digests are keyed and stable; wrong key refused; no table is created by a lookup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-reid-uid-'))
  try {
    const path = join(dir, 'reid.db')
    const key = generateSecret()
    const t = ReidTable.open(path, key, { now: () => new Date('2026-02-03T00:00:00.000Z') })
    t.recordUid({ collection: 'c', newUid: '2.25.1', originalUid: '1.2.3', pseudonymousPatientId: 'KABC', keyword: 'StudyInstanceUID' })
    t.recordUid({ collection: 'c', newUid: '2.25.1', originalUid: '1.2.3', pseudonymousPatientId: 'KABC', keyword: 'StudyInstanceUID' })
    assert.throws(() => t.recordUid({ collection: 'c', newUid: '2.25.1', originalUid: '9.9', pseudonymousPatientId: 'KABC', keyword: 'StudyInstanceUID' }), (e: unknown) => isKuraError(e) && e.code === 'DEID_REID_CONFLICT')
    assert.deepEqual(t.lookupUid('c', '2.25.1'), { collection: 'c', newUid: '2.25.1', originalUid: '1.2.3', pseudonymousPatientId: 'KABC', keyword: 'StudyInstanceUID', firstSeen: '2026-02-03T00:00:00.000Z' })
    assert.equal(t.lookupUid('other', '2.25.1'), null)
    assert.equal(t.lookup('c', '2.25.1'), null, 'UIDs and pseudonyms are separate domains')
    const d = t.auditDigest('KABC')
    assert.match(d, /^[0-9a-f]{64}$/)
    assert.equal(t.auditDigest('KABC'), d)
    t.close()
    const other = ReidTable.open(join(dir, 'other.db'), generateSecret())
    assert.notEqual(other.auditDigest('KABC'), d, 'the digest depends on the operator key')
    other.close()
    assert.throws(() => ReidTable.open(path, generateSecret()), (e: unknown) => isKuraError(e) && e.code === 'DEID_REID_WRONG_KEY')
    assert.throws(() => ReidTable.open(join(dir, 'missing.db'), key, { mustExist: true }), (e: unknown) => isKuraError(e) && e.code === 'DEID_REID_MISSING')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
