/**
 * The synthetic DICOM WSI writer: dciodvfy (Debian dicom3tools) finds no errors in any instance, output is
 * deterministic, the label carries rendered fake identifiers, and bad options are refused.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { BufferSource, FileSource } from '@kura/core'
import { getString, readDicom } from '@kura/dicom'
import { openDicomSlide } from '../formats/dicom-wsi.ts'
import { writeDicomSlide } from './dicom.ts'

const DCIODVFY = '/usr/bin/dciodvfy'
const work = mkdtempSync(join(tmpdir(), 'kura-synth-dicom-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

/** dciodvfy's Error and Warning lines for one file; fails loudly when dicom3tools is missing. */
function verify(path: string): { errors: string[]; warnings: string[] } {
  const r = spawnSync(DCIODVFY, [path], { encoding: 'utf8' })
  if (r.error) throw new Error(`${DCIODVFY} is missing (apt-get install -y dicom3tools): ${r.error.message}`)
  const lines = `${r.stdout}\n${r.stderr}`.split('\n')
  return { errors: lines.filter((l) => l.startsWith('Error')), warnings: lines.filter((l) => l.startsWith('Warning')) }
}

test('every instance (TILED_FULL levels, TILED_SPARSE levels, label) passes dciodvfy without errors', async () => {
  const full = await writeDicomSlide({ width: 1300, height: 900, tileSize: 256, seed: 5, out: join(work, 'full') })
  const sparse = await writeDicomSlide({ width: 1300, height: 900, tileSize: 256, seed: 5, out: join(work, 'sparse'), sparse: true })
  assert.deepEqual(full.levels, [
    { width: 1300, height: 900, frames: 24 },
    { width: 650, height: 450, frames: 6 },
    { width: 325, height: 225, frames: 2 },
    { width: 163, height: 113, frames: 1 },
  ])
  for (const f of [...full.files, ...sparse.files]) {
    const v = verify(f)
    assert.deepEqual(v.errors, [], f)
    if (v.warnings.length > 0) console.log(`${f}: ${v.warnings.join(' | ')}`)
  }
  const head = await readDicom(new BufferSource(readFileSync(full.files[0])))
  assert.equal(getString(head.dataset, 0x00209311), 'TILED_FULL')
  assert.equal(getString((await readDicom(new BufferSource(readFileSync(sparse.files[0])))).dataset, 0x00209311), 'TILED_SPARSE')
})

test('same seed, same bytes; another seed, another slide', async () => {
  const a = await writeDicomSlide({ width: 700, height: 500, seed: 9, out: join(work, 'a') })
  const b = await writeDicomSlide({ width: 700, height: 500, seed: 9, out: join(work, 'b') })
  const c = await writeDicomSlide({ width: 700, height: 500, seed: 10, out: join(work, 'c') })
  a.files.forEach((f, i) => assert.deepEqual(readFileSync(f), readFileSync(b.files[i]), f))
  assert.notDeepEqual(readFileSync(a.files[0]), readFileSync(c.files[0]))
})

test('the label instance shows the given fake identifiers as dark text on white', async () => {
  const out = join(work, 'label')
  await writeDicomSlide({ width: 600, height: 400, seed: 2, out, label: 'TEST^PATIENT\nID 000-FAKE' })
  const s = await openDicomSlide([await FileSource.open(join(out, 'level-0.dcm')), await FileSource.open(join(out, 'label.dcm'))])
  try {
    const label = await s.associated.get('label')!.read()
    const { data, info } = await sharp(label.bytes).greyscale().raw().toBuffer({ resolveWithObject: true })
    // The text rows (y 25–110) hold dark glyph pixels; the margin above them is white.
    let dark = 0
    for (let y = 25; y < 110; y++) for (let x = 0; x < info.width; x++) if (data[y * info.width + x] < 100) dark++
    let marginDark = 0
    for (let y = 0; y < 15; y++) for (let x = 0; x < info.width; x++) if (data[y * info.width + x] < 100) marginDark++
    assert.ok(dark > 500, `dark text pixels: ${dark}`)
    assert.equal(marginDark, 0)
    const head = await readDicom(new BufferSource(readFileSync(join(out, 'label.dcm'))), { untilTag: 0x7fe00010 })
    assert.equal(getString(head.dataset, 0x22000002), 'TEST^PATIENT\nID 000-FAKE')
  } finally {
    await s.close()
  }
})

test('bad sizes are refused before anything is written', async () => {
  await assert.rejects(writeDicomSlide({ width: 0, height: 10, out: join(work, 'bad') }), RangeError)
  await assert.rejects(writeDicomSlide({ width: 10, height: 10, tileSize: 100, out: join(work, 'bad') }), RangeError)
  await assert.rejects(writeDicomSlide({ width: 300_000, height: 10, out: join(work, 'bad') }), RangeError)
})
