/**
 * DICOM WSI folders through the gateway's slide de-identification: a real converter's output
 * (OrthancWSIDicomizer, Debian orthanc-wsi, run on CMU-1-Small-Region.svs: no Image Type at all) comes out as one
 * clean slide; a synthetic slide's LABEL instance is left behind; a folder that also holds another kind of DICOM
 * object is quarantined with a reason, nothing written.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BASIC_POLICY, generateSecret } from '@kura/deid'
import { synthStudies } from '@kura/dicom/synth'
import { writeDicomSlide } from '@kura/wsi/synth'
import { deidentifyDicomSlide } from './deidentify-input.ts'

const CMU = '/work/shared/data/wsi/CMU-1-Small-Region.svs'
const dir = mkdtempSync(join(tmpdir(), 'kura-slide-input-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
const settings = { policy: BASIC_POLICY, secret: generateSecret(), collection: 'path' }
const files = (d: string) => readdirSync(d).sort().map((f) => join(d, f))

test('OrthancWSIDicomizer output (no Image Type) is one clean slide', async () => {
  const out = join(dir, 'orthanc')
  mkdirSync(out)
  const r = spawnSync('OrthancWSIDicomizer', [`--folder=${out}`, CMU], { encoding: 'utf8' })
  if (r.error || r.status !== 0) throw new Error(`OrthancWSIDicomizer failed (apt-get install -y orthanc-wsi): ${r.error?.message ?? r.stderr}`)
  const res = await deidentifyDicomSlide(files(out), join(dir, 'w1'), join(dir, 'orthanc.tar'), settings)
  assert.equal(res.kind, 'clean', JSON.stringify(res))
  assert.ok(res.kind === 'clean' && res.count === files(out).length && res.study?.startsWith('2.25.'))
  assert.ok(existsSync(join(dir, 'orthanc.tar')))
  assert.ok(!existsSync(join(dir, 'w1')), 'the work folder is removed')
})

test('a synthetic slide\'s LABEL stays behind; a stray non-slide object quarantines the folder', async () => {
  const out = join(dir, 'synth')
  const s = await writeDicomSlide({ width: 1024, height: 768, seed: 3, out })
  const res = await deidentifyDicomSlide(s.files, join(dir, 'w2'), join(dir, 'synth.tar'), settings)
  assert.equal(res.kind, 'clean', JSON.stringify(res))
  assert.ok(res.kind === 'clean' && res.count === s.levels.length && /left on site: LABEL/.test(res.summary))

  const ct = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed: 4, modality: 'CT', sizes: { CT: { rows: 16, columns: 16 } } })][0]!
  const mixed = join(dir, 'mixed')
  mkdirSync(mixed)
  for (const f of s.files) copyFileSync(f, join(mixed, f.split('/').pop()!))
  writeFileSync(join(mixed, 'zz-ct.dcm'), ct.bytes)
  const bad = await deidentifyDicomSlide(files(mixed), join(dir, 'w3'), join(dir, 'mixed.tar'), settings)
  assert.equal(bad.kind, 'quarantined')
  assert.match(bad.kind === 'quarantined' ? bad.reason : '', /not a VL Whole Slide Microscopy Image/)
  assert.ok(!existsSync(join(dir, 'mixed.tar')))
})
