import { test } from 'node:test'
import assert from 'node:assert/strict'
import { newDicomUid, newId } from './ids.ts'

test('newId: UUID version 7, time-ordered, unique', async () => {
  const a = newId()
  await new Promise((r) => setTimeout(r, 2))
  const b = newId()
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.ok(a < b, 'later ids sort after earlier ones')
  const ms = parseInt(b.replace(/-/g, '').slice(0, 12), 16)
  assert.ok(Math.abs(ms - Date.now()) < 1000, 'the first 48 bits are the time in ms')
  assert.equal(new Set(Array.from({ length: 10_000 }, newId)).size, 10_000)
})

test('newDicomUid: 2.25 root, at most 64 characters', () => {
  const uid = newDicomUid()
  assert.match(uid, /^2\.25\.[1-9][0-9]*$/)
  assert.ok(uid.length <= 64)
})
