import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ResponseCache } from './response-cache.ts'

test('ResponseCache evicts the least recently used entries past its byte budget', () => {
  const c = new ResponseCache(400)
  c.set('a', Buffer.alloc(100))
  c.set('b', Buffer.alloc(100))
  c.set('c', Buffer.alloc(100))
  assert.ok(c.get('a')) // a is now the most recently used
  c.set('d', Buffer.alloc(100))
  c.set('e', Buffer.alloc(100)) // 500 bytes: the oldest (b) goes
  assert.equal(c.get('b'), undefined)
  for (const k of ['a', 'c', 'd', 'e']) assert.ok(c.get(k), k)
  c.set('huge', Buffer.alloc(101)) // more than a quarter of the budget: not cached
  assert.equal(c.get('huge'), undefined)
})
