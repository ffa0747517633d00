import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CHAIN_GENESIS, canonicalJson, chainHash, verifyChain } from './hash-chain.ts'

interface Entry { prev: string; hash: string; body: { n: number; who: string } }

function build(n: number): Entry[] {
  const out: Entry[] = []
  let prev = CHAIN_GENESIS
  for (let i = 0; i < n; i++) {
    const body = { n: i, who: `user${i}` }
    const hash = chainHash(prev, body)
    out.push({ prev, hash, body })
    prev = hash
  }
  return out
}
const parts = { prevOf: (e: Entry) => e.prev, hashOf: (e: Entry) => e.hash, bodyOf: (e: Entry) => e.body }

test('canonical JSON ignores key order and undefined members', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } }), '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}')
})

test('an intact chain verifies; an edit, a removal and a swap are each found at the right place', () => {
  assert.equal(verifyChain(build(5), parts), null)
  const edited = build(5)
  edited[2]!.body.who = 'mallory'
  assert.equal(verifyChain(edited, parts)?.index, 2)
  const removed = build(5)
  removed.splice(1, 1)
  assert.equal(verifyChain(removed, parts)?.index, 1)
  const swapped = build(5)
  ;[swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!]
  assert.equal(verifyChain(swapped, parts)?.index, 3)
})
