/** The record receipt check: the key, identity refused by field, PHI patterns, and validation reasons. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { checkRecord, recordKey } from './receipt-check.ts'
import { itemOf, sampleEndoscopy } from './samples.ts'

describe('record receipt check', () => {
  it('keys a record by the SHA-256 of its canonical JSON, whatever the key order', () => {
    const r = sampleEndoscopy({ recordId: 'K-1', subject: 'S', performedAt: '2025-01-01' })
    const reordered = Object.fromEntries(Object.entries(r).reverse())
    assert.equal(recordKey(reordered), recordKey(r))
    const sorted = (v: unknown): unknown => (Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as any)[k])])) : v)
    assert.equal(recordKey(r), createHash('sha256').update(JSON.stringify(sorted(r))).digest('hex'))
  })

  it('accepts a valid de-identified record', () => {
    const c = checkRecord(itemOf(sampleEndoscopy({ recordId: 'K-2', subject: 'S', performedAt: '2025-01-01T08:00', studies: ['1.2.3'] })))
    assert.equal(c.ok, true, JSON.stringify(c))
  })

  it('refuses each identity field by name, without its value', () => {
    const r = sampleEndoscopy({ recordId: 'K-3', subject: 'S', performedAt: '2025-01-01' }) as any
    r.subject = { ...r.subject, patientId: 'P-778899', phone: '090-1111-2222', postalCode: '100-0001' }
    r.staff = [{ role: 'endoscopist', id: 'X', name: '佐藤花子' }]
    const c = checkRecord(itemOf(r))
    assert.equal(c.ok, false)
    if (c.ok) return
    assert.deepEqual(c.reasons.map((e) => e.path).sort(), ['record.staff[0].name', 'record.subject.patientId', 'record.subject.phone', 'record.subject.postalCode'])
    for (const v of ['P-778899', '090-1111-2222', '100-0001', '佐藤花子']) assert.ok(!JSON.stringify(c).includes(v), v)
  })

  it('finds PHI patterns in free text and reports validation by field', () => {
    const r = sampleEndoscopy({ recordId: 'K-4', subject: 'S', performedAt: '2025-02-30', text: '〒100-0001 に連絡' }) as any
    r.findings[0].note = '電話 ０３－１２３４－５６７８'
    r.images = [{ studyInstanceUid: 'not-a-uid' }]
    const c = checkRecord(itemOf(r))
    assert.equal(c.ok, false)
    if (c.ok) return
    const paths = c.reasons.map((e) => e.path)
    for (const p of ['record.text', 'record.findings[0].note', 'record.performedAt', 'record.images[0].studyInstanceUid']) assert.ok(paths.includes(p), `${p} in ${paths}`)
  })

  it('refuses a key that does not match, and a malformed one', () => {
    const r = sampleEndoscopy({ recordId: 'K-5', subject: 'S', performedAt: '2025-01-01' })
    const other = checkRecord({ key: recordKey({ ...r, recordId: 'K-6' }), record: r })
    assert.ok(!other.ok && /key-mismatch/.test(other.reason))
    const bad = checkRecord({ key: 'ABC', record: r })
    assert.ok(!bad.ok && bad.reasons[0]!.path === 'key')
  })
})
