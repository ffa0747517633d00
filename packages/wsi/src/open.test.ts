/**
 * openSlide: bounded reads (never the whole file), format detection that routes NDPI and DICOM
 * to their readers, and clear errors for malformed files, JPEG 2000 SVS and junk.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BufferSource, FileSource, type ByteSource } from '@kura/core'
import { openSlide } from './open.ts'
import { TiffFile } from './tiff/parser.ts'
import { CMU_SMALL } from './testkit.ts'

/** Counts every read that reaches the file. */
class CountingSource implements ByteSource {
  reads = 0
  bytes = 0
  constructor(private readonly inner: ByteSource) {}
  get size() {
    return this.inner.size
  }
  async read(offset: number, length: number) {
    this.reads++
    const b = await this.inner.read(offset, length)
    this.bytes += b.length
    return b
  }
  close() {
    return this.inner.close()
  }
}

test('opening the SVS and reading one tile takes a few small reads, never the whole file', async () => {
  const src = new CountingSource(await FileSource.open(CMU_SMALL))
  const s = await openSlide(src)
  const afterOpen = { reads: src.reads, bytes: src.bytes }
  const t = await s.tile(0, 3, 3)
  console.log(`open: ${afterOpen.reads} reads, ${afterOpen.bytes} bytes; + first tile: ${src.reads} reads, ${src.bytes} bytes of ${src.size}`)
  assert.ok(src.reads <= 20, `${src.reads} reads`)
  assert.ok(src.bytes <= 32 * 1024, `${src.bytes} bytes read`)
  // A second tile of the same level reuses the cached offsets and tables: exactly one more read.
  const before = src.reads
  await s.tile(0, 4, 3)
  assert.equal(src.reads, before + 1)
  assert.ok(t.bytes.length > 1000)
  await s.close()
})

/** A copy of the SVS with one IFD0 entry rewritten; `field` picks tag number or value. */
function patchedCopy(dir: string, tag: number, patch: { tag?: number; value?: number }): Promise<string> {
  return (async () => {
    const f = await TiffFile.open(await FileSource.open(CMU_SMALL))
    const i = [...f.ifds[0].entries.keys()].indexOf(tag)
    const at = f.ifds[0].offset + 2 + i * 12
    await f.source.close()
    const out = join(dir, `patched-${tag}.svs`)
    copyFileSync(CMU_SMALL, out)
    const b = readFileSync(out)
    if (patch.tag !== undefined) b.writeUInt16LE(patch.tag, at)
    if (patch.value !== undefined) b.writeUInt16LE(patch.value, at + 8)
    writeFileSync(out, b)
    return out
  })()
}

test('JPEG 2000 SVS opens (metadata) but tiles fail naming the compression', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-wsi-open-'))
  try {
    const path = await patchedCopy(dir, 259, { value: 33003 })
    const s = await openSlide(await FileSource.open(path))
    assert.equal(s.properties['aperio.AppMag'], '20')
    await assert.rejects(s.tile(0, 0, 0), (e: Error & { code?: string }) => e.code === 'WSI_UNSUPPORTED_COMPRESSION' && /33003/.test(e.message) && /JPEG 2000/.test(e.message))
    await assert.rejects(s.readRegion(0, 0, 0, 10, 10), { code: 'WSI_UNSUPPORTED_COMPRESSION' })
    await s.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('NDPI and DICOM are routed to their readers, which reject what is not a slide; junk is not a slide', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-wsi-open-'))
  try {
    const ndpi = await patchedCopy(dir, 32997, { tag: 65420 })
    // An SVS that only carries the NDPI marker tag is a malformed NDPI, said as such.
    await assert.rejects(openSlide(await FileSource.open(ndpi)), (e: Error & { code?: string }) => e.code === 'WSI_MALFORMED' && /NDPI/.test(e.message))
    const dcm = new Uint8Array(200)
    dcm.set(Buffer.from('DICM'), 128)
    // DICOM goes to the DICOM WSI reader, which says this is no slide.
    await assert.rejects(openSlide(new BufferSource(dcm)), { code: 'WSI_DICOM_NOT_WSI' })
    await assert.rejects(openSlide(new BufferSource(Buffer.from('just some text, not a slide at all'))), { code: 'WSI_UNKNOWN_FORMAT' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a truncated SVS fails with a clear error, not a hang or a crash', async () => {
  const whole = readFileSync(CMU_SMALL)
  // Cut inside the level-0 tile data: the directory at the end is lost.
  await assert.rejects(openSlide(new BufferSource(whole.subarray(0, 500_000))), (e: Error & { code?: string }) => /^WSI_/.test(e.code ?? ''))
  // A tile whose offset points past the end says the file is truncated.
  const f = await TiffFile.open(new BufferSource(whole))
  const e = f.ifds[0].entries.get(324)!
  const cut = new Uint8Array(whole)
  new DataView(cut.buffer).setUint32(e.valueOffset, whole.length - 10, true) // tile 0,0 now starts 10 bytes before the end
  const s = await openSlide(new BufferSource(cut))
  await assert.rejects(s.tile(0, 0, 0), { code: 'WSI_TRUNCATED' })
  await assert.doesNotReject(s.tile(0, 1, 0))
  await s.close()
})
