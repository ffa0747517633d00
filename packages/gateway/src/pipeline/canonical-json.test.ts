import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { canonicalJson as coreCanonicalJson } from '@kura/core'
import { canonicalJson, recordKey } from './canonical-json.ts'

test("the record stage's canonical JSON is @kura/core's, byte for byte, for any JSON value (undefined members too)", () => {
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.double(), fc.integer(), fc.string({ unit: 'binary' }), fc.constant(undefined),
      fc.array(tie('node')), fc.dictionary(fc.string({ unit: 'binary' }), tie('node'))),
  })).node
  fc.assert(fc.property(value, (v) => canonicalJson(v) === coreCanonicalJson(v)), { numRuns: 2000 })
  assert.equal(canonicalJson({ b: [1, { d: undefined, c: 'x' }], a: '日本' }), '{"a":"日本","b":[1,{"c":"x"}]}')
})

test('the record key is the hex SHA-256 of the canonical text', () => {
  const s = canonicalJson({ kind: 'patient', subject: { id: 'K1' } })
  assert.equal(recordKey(s), createHash('sha256').update(s, 'utf8').digest('hex'))
})

test('many keys (the Array#sort path), integer-like keys, and more distinct keys than it remembers: still core\'s text', () => {
  const wide: Record<string, unknown> = {}
  for (let i = 0; i < 5000; i++) wide[i % 3 === 0 ? String(i) : `k${(i * 7919) % 5000}\u00e9${i}`] = i % 2 ? { [`n${i}`]: i, a: [i] } : `v${i}`
  const small = { 10: 1, 9: 2, b: 3, B: 4, '': 5, 'é': 6, '\ud83d\ude00': 7, '\uffff': 8 }
  for (const v of [wide, small, { x: wide, y: [small, small] }]) assert.equal(canonicalJson(v), coreCanonicalJson(v))
})
