/** ustar index reader against archives written by the system `tar --format=ustar`. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { BufferSource } from '@kura/core'
import { readTarIndex, TarError } from './ustar.ts'

test('readTarIndex: names, sizes and data offsets of what tar wrote; damage is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kura-ustar-'))
  try {
    const files: Record<string, Buffer> = { 'a.dcm': Buffer.alloc(0), 'b.dcm': Buffer.from('x'.repeat(511)), 'c.dcm': Buffer.alloc(1025, 7) }
    for (const [n, b] of Object.entries(files)) await writeFile(join(dir, n), b)
    execFileSync('tar', ['--format=ustar', '-cf', join(dir, 't.tar'), '-C', dir, ...Object.keys(files)])
    const tar = await readFile(join(dir, 't.tar'))
    const entries = await readTarIndex(new BufferSource(tar))
    assert.deepEqual(entries.map((e) => [e.name, e.size]), Object.entries(files).map(([n, b]) => [n, b.length]))
    for (const e of entries) assert.deepEqual(tar.subarray(e.offset, e.offset + e.size), files[e.name])

    const damaged = Buffer.from(tar)
    damaged[entries[1]!.offset - 512 + 10] ^= 0xff
    await assert.rejects(readTarIndex(new BufferSource(damaged)), (e) => e instanceof TarError && /checksum/.test(e.message))
    await assert.rejects(readTarIndex(new BufferSource(tar.subarray(0, entries[2]!.offset + 100))), TarError)
    execFileSync('tar', ['--format=gnu', '-cf', join(dir, 'g.tar'), '-C', dir, 'a.dcm'])
    await assert.rejects(readTarIndex(new BufferSource(await readFile(join(dir, 'g.tar')))), /not ustar/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
