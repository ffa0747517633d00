import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isKuraError } from '@kura/core'
import { base32Crockford, pseudonymizer } from './pseudonym.ts'

const secret = Buffer.alloc(32, 7)
const other = Buffer.alloc(32, 8)
const p = pseudonymizer(secret, 'c1')

test('base32Crockford: RFC-style bit order, Crockford alphabet, no padding', () => {
  assert.equal(base32Crockford(Buffer.from([0xff])), 'ZW')
  assert.equal(base32Crockford(Buffer.from([0, 0, 0, 0, 0])), '00000000')
  assert.equal(base32Crockford(Buffer.alloc(10, 0xff)), 'Z'.repeat(16))
})

test('deterministic: same secret, collection and value give the same output, also from a fresh instance', () => {
  const q = pseudonymizer(Buffer.from(secret), 'c1')
  for (const v of ['12345', 'YAMADA^TARO', '1.2.840.113619.2.55.3']) {
    assert.equal(p.patientId(v), q.patientId(v))
    assert.equal(p.personName(v), q.personName(v))
    assert.equal(p.uid(v), q.uid(v))
    assert.equal(p.dateShiftDays(v), q.dateShiftDays(v))
  }
  assert.equal(p.patientId('12345 '), p.patientId('12345'), 'LO padding is insignificant')
  assert.equal(p.personName('YAMADA^TARO^^'), p.personName('YAMADA^TARO'), 'trailing empty PN components are insignificant')
  assert.equal(p.uid('1.2.3\0'), p.uid('1.2.3'), 'UI NUL padding is insignificant')
})

test('domain separation: collection, secret and purpose each change the output', () => {
  const c2 = pseudonymizer(secret, 'c2')
  const s2 = pseudonymizer(other, 'c1')
  assert.notEqual(p.patientId('12345'), c2.patientId('12345'))
  assert.notEqual(p.patientId('12345'), s2.patientId('12345'))
  assert.notEqual(p.uid('1.2.3'), c2.uid('1.2.3'))
  // Same value, different purpose: the base32 bodies differ.
  assert.notEqual(p.patientId('X').slice(1, 14), p.personName('X').slice(5))
  const shifts = new Set(Array.from({ length: 50 }, (_, i) => pseudonymizer(secret, `c${i}`).dateShiftDays('12345')))
  assert.ok(shifts.size > 10, 'the date offset depends on the collection')
})

test('patientId and personName formats; no original substring appears', () => {
  const id = p.patientId('PAT-0001234')
  assert.match(id, /^K[0-9A-HJKMNP-TV-Z]{16}$/)
  const pn = p.personName('YAMADA^TARO')
  assert.match(pn, /^ANON\^[0-9A-HJKMNP-TV-Z]{13}$/)
  for (const [orig, out] of [['PAT-0001234', id], ['YAMADA^TARO', pn], ['Yamada^Taro=山田^太郎', p.personName('Yamada^Taro=山田^太郎')]] as const) {
    for (const part of orig.split(/[\^=\-]/).filter((s) => s.length >= 3)) assert.ok(!out.toUpperCase().includes(part.toUpperCase()), `${part} leaked into ${out}`)
  }
  assert.notEqual(p.personName('YAMADA^TARO'), p.personName('YAMADA^JIRO'))
})

test('uid: 2.25 + decimal of a v8 UUID, <= 64 chars, valid UI, no collisions in 100k', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 100_000; i++) {
    const u = p.uid(`1.2.826.0.1.3680043.8.498.${i}`)
    seen.add(u)
    if (i < 2000) {
      assert.ok(u.length <= 64)
      assert.match(u, /^2\.25\.[1-9][0-9]*$/)
      const hex = BigInt(u.slice(5)).toString(16).padStart(32, '0')
      assert.equal(hex[12], '8', 'version nibble 8')
      assert.ok(['8', '9', 'a', 'b'].includes(hex[16]!), 'variant bits 10')
    }
  }
  assert.equal(seen.size, 100_000)
})

test('dateShiftDays: in range, never 0, configurable, validated', () => {
  for (let i = 0; i < 2000; i++) {
    const d = p.dateShiftDays(`P${i}`)
    assert.ok(Number.isInteger(d) && d >= -365 && d <= -1)
  }
  const around = pseudonymizer(secret, 'c1', { dateShift: { min: -2, max: 2 } })
  const values = new Set(Array.from({ length: 500 }, (_, i) => around.dateShiftDays(`S${i}`)))
  assert.deepEqual([...values].sort(), [-1, -2, 1, 2].sort())
  assert.throws(() => pseudonymizer(secret, 'c1', { dateShift: { min: 0, max: 0 } }), (e: unknown) => isKuraError(e) && e.code === 'DEID_KEY_BAD_RANGE')
  assert.throws(() => pseudonymizer(secret, 'c1', { dateShift: { min: 5, max: 1 } }), (e: unknown) => isKuraError(e) && e.code === 'DEID_KEY_BAD_RANGE')
})

test('refuses short secrets and unusable collection names', () => {
  assert.throws(() => pseudonymizer(Buffer.alloc(31), 'c1'), (e: unknown) => isKuraError(e) && e.code === 'DEID_KEY_TOO_SHORT')
  assert.throws(() => pseudonymizer(secret, ''), (e: unknown) => isKuraError(e) && e.code === 'DEID_KEY_BAD_COLLECTION')
  assert.throws(() => pseudonymizer(secret, 'a/b'), (e: unknown) => isKuraError(e) && e.code === 'DEID_KEY_BAD_COLLECTION')
})

test('the MAC is HMAC-SHA256 byte for byte: outputs equal those built with createHmac, for many values and keys', async () => {
  const { createHmac, randomBytes } = await import('node:crypto')
  // The reference: the spelling the pseudonyms were defined with (and produced up to 2026-11-28).
  const ref = (key: Buffer, collection: string) => {
    const mac = (purpose: string, v: string) => createHmac('sha256', key).update(`kura/v1/${purpose}/${collection}/`, 'utf8').update(v, 'utf8').digest()
    const norm = (s: string) => s.replace(/^[ \0]+|[ \0]+$/g, '')
    return {
      patientId: (v: string) => `K${base32Crockford(mac('patient-id', norm(v)).subarray(0, 10))}`,
      personName: (v: string) => `ANON^${base32Crockford(mac('person-name', norm(v).replace(/[\^=]+$/, '')).subarray(0, 8))}`,
      uidHex: (v: string) => mac('uid', norm(v)).subarray(0, 16),
      shift64: (v: string) => mac('date-shift', norm(v)).readBigUInt64BE(0),
    }
  }
  const values = ['', 'x', '12345', 'YAMADA^TARO^^', 'Yamada^Taro=山田^太郎', '\0study/1.2.3', '𠮷野家', 'lone \ud800 high', 'lone \udc00 low', 'a'.repeat(5000), '検'.repeat(2000)]
  for (let i = 0; i < 1000; i++) values.push(`1.2.392.200036.9116.2.5.1.37.${i}.${i * 7919}`, randomBytes(1 + (i % 90)).toString('latin1'), String.fromCharCode(...randomBytes(2 * (1 + (i % 40))).reduce<number[]>((a, b, j, all) => (j % 2 ? a : [...a, b | (all[j + 1]! << 8)]), [])))
  const keys = [Buffer.alloc(32, 7), randomBytes(32), randomBytes(63), randomBytes(64), randomBytes(65), randomBytes(200)]
  for (const [ki, key] of keys.entries()) {
    const collection = `coll-${ki}-日本`
    const q = pseudonymizer(key, collection, { dateShift: { min: -1_000_000, max: 1_000_000 } })
    const r = ref(key, collection)
    for (const v of values) {
      assert.equal(q.patientId(v), r.patientId(v))
      assert.equal(q.patientIdOnce(v), r.patientId(v))
      assert.equal(q.personName(v), r.personName(v))
      const b = r.uidHex(v)
      b[6] = (b[6]! & 0x0f) | 0x80
      b[8] = (b[8]! & 0x3f) | 0x80
      assert.equal(q.uid(v), `2.25.${BigInt(`0x${b.toString('hex')}`).toString(10)}`)
      const n = Number(r.shift64(v) % 2_000_000n) - 1_000_000
      assert.equal(q.dateShiftDays(v), n >= 0 ? n + 1 : n)
    }
  }
})
