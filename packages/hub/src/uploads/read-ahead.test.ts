/** ReadAhead (block reads for the tar index) and how a bundle's entries are cut into groups for ingestMany. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BufferSource, type ByteSource } from '@kura/core'
import { ReadAhead } from './read-ahead.ts'
import { GROUP, GROUP_BYTES, groupEnd } from './complete.ts'

test('ReadAhead returns the same bytes as its source, with one inner read per block for sequential reads', async () => {
  const buf = Buffer.alloc(10_000)
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 31) & 0xff
  let reads = 0
  const inner: ByteSource = { size: buf.length, read: async (o, n) => { reads++; return buf.subarray(o, Math.min(buf.length, o + n)) }, close: async () => {} }
  const ra = new ReadAhead(inner, 4096)
  for (let at = 0; at < buf.length; at += 512) assert.deepEqual(await ra.read(at, 512), buf.subarray(at, Math.min(buf.length, at + 512)))
  assert.equal(reads, 3)
  assert.deepEqual(await ra.read(100, 50), buf.subarray(100, 150), 'backwards: read again')
  assert.deepEqual(await ra.read(0, 9000), buf.subarray(0, 9000), 'longer than a block: straight through')
  assert.deepEqual(await ra.read(9990, 512), buf.subarray(9990), 'short at the end')
  assert.deepEqual(await new ReadAhead(new BufferSource(buf)).read(2, 3), buf.subarray(2, 5))
})

test('groupEnd: consecutive small entries, at most GROUP of them and GROUP_BYTES of span; a large entry stands alone', () => {
  const MiB = 1024 * 1024
  let at = 512
  const entries = (sizes: number[]) => sizes.map((size) => { const e = { name: 'x', offset: at, size }; at += 512 + Math.ceil(size / 512) * 512; return e })
  const small = entries(Array(GROUP + 5).fill(1000))
  assert.equal(groupEnd(small, 0), GROUP)
  assert.equal(groupEnd(small, GROUP), GROUP + 5)
  at = 512
  const mixed = entries([1000, 1000, 17 * MiB, 1000, 12 * MiB, 12 * MiB, 12 * MiB, 12 * MiB])
  assert.equal(groupEnd(mixed, 0), 2, 'stops before an entry that is streamed alone')
  assert.equal(groupEnd(mixed, 3), 6, 'stops when the span would pass GROUP_BYTES')
  assert.ok(mixed[5]!.offset + mixed[5]!.size - mixed[3]!.offset <= GROUP_BYTES)
})
