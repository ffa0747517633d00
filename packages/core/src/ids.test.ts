import { describe, it, test } from 'node:test'
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

describe('newId order', () => {
  it('only increases within a process, also within one millisecond (ORDER BY id keeps creation order)', () => {
    const ids = Array.from({ length: 20_000 }, () => newId())
    const sameMs = ids.filter((id, i) => i > 0 && id.slice(0, 13) === ids[i - 1]!.slice(0, 13)).length
    assert.ok(sameMs > 100, `${sameMs} ids shared their millisecond with the one before`)
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `${ids[i - 1]} then ${ids[i]}`)
    for (const id of ids.slice(0, 100)) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })
})
