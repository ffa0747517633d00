import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildUstar, ustarBytes, writeUstar } from './tar.ts'

test('writeUstar makes an archive the system tar lists and extracts byte for byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-tar-'))
  try {
    const files = [Buffer.from('a'), Buffer.alloc(512, 7), Buffer.alloc(1025, 9), Buffer.alloc(0)].map((b, i) => {
      const sha = createHash('sha256').update(b).digest('hex')
      const path = join(dir, `f${i}`)
      writeFileSync(path, b)
      return { name: `${sha}.dcm`, path, size: b.length, bytes: b }
    })
    const out = join(dir, 'bundle.tar')
    const r = await writeUstar(files, out, 1_700_000_000)
    const tarBytes = readFileSync(out)
    assert.equal(r.bytes, tarBytes.length)
    assert.equal(r.sha256, createHash('sha256').update(tarBytes).digest('hex'))
    assert.equal(tarBytes.length % 512, 0)
    const listing = execFileSync('tar', ['-tvf', out], { encoding: 'utf8' }).trim().split('\n')
    assert.equal(listing.length, files.length)
    files.forEach((f, i) => assert.match(listing[i]!, new RegExp(`\\s${f.size}\\s.*${f.name}$`)))
    const x = join(dir, 'x')
    mkdirSync(x)
    execFileSync('tar', ['-xf', out, '-C', x])
    for (const f of files) assert.deepEqual(readFileSync(join(x, f.name)), f.bytes)
    // GNU tar recognises the format as ustar (not gnu or v7).
    assert.match(tarBytes.subarray(257, 265).toString('latin1'), /^ustar\x0000$/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('buildUstar builds in memory the same bytes as writeUstar, and refuses a file whose size changed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-tar-'))
  try {
    const files = [Buffer.alloc(3, 1), Buffer.alloc(512, 2), Buffer.alloc(0), Buffer.alloc(2000, 3)].map((b, i) => {
      const path = join(dir, `f${i}`)
      writeFileSync(path, b)
      return { name: `e${i}.dcm`, path, size: b.length }
    })
    const out = join(dir, 'bundle.tar')
    const w = await writeUstar(files, out, 1_700_000_000)
    const m = await buildUstar(files, 1_700_000_000)
    assert.deepEqual(m.data, readFileSync(out))
    assert.equal(m.sha256, w.sha256)
    assert.equal(ustarBytes(files.map((f) => f.size)), m.data.length)
    writeFileSync(files[1]!.path, Buffer.alloc(513, 2)) // grew
    await assert.rejects(buildUstar(files), /larger than/)
    writeFileSync(files[1]!.path, Buffer.alloc(511, 2)) // shrank
    await assert.rejects(buildUstar(files), /511 bytes/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
