/**
 * What counts as a slide in a scanner folder: TIFF-family files by their header (any extension), a folder of DICOM
 * files as one DICOM WSI (not while a copy into it is unfinished), and nothing else.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findSlides } from './find-slides.ts'

const dicom = (n: number) => Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.alloc(n)])

test('slide files by header, DICOM WSI folders whole, the rest ignored', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kura-find-slides-'))
  try {
    writeFileSync(join(root, 'a.svs'), Buffer.from([0x49, 0x49, 42, 0, 8, 0, 0, 0]))
    writeFileSync(join(root, 'scan-0002'), Buffer.from([0x4d, 0x4d, 0, 43, 0, 8, 0, 0]))
    writeFileSync(join(root, 'notes.txt'), 'not a slide')
    writeFileSync(join(root, 'loose.dcm'), dicom(10)) // straight in the watched folder: for the folders source
    writeFileSync(join(root, '.hidden.tif'), Buffer.from([0x49, 0x49, 42, 0]))
    mkdirSync(join(root, 'wsi-1'))
    writeFileSync(join(root, 'wsi-1', 'level-0.dcm'), dicom(100))
    writeFileSync(join(root, 'wsi-1', 'level-1.dcm'), dicom(50))
    mkdirSync(join(root, 'wsi-2'))
    writeFileSync(join(root, 'wsi-2', 'level-0.dcm'), dicom(100))
    writeFileSync(join(root, 'wsi-2', 'level-1.dcm.part'), dicom(5))

    const found = await findSlides(root)
    assert.deepEqual(found.map((f) => [f.kind, f.path.slice(root.length + 1), f.files.length]).sort(), [
      ['dicom-folder', 'wsi-1', 2],
      ['file', 'a.svs', 1],
      ['file', 'scan-0002', 1],
    ])
    const wsi = found.find((f) => f.kind === 'dicom-folder')!
    assert.equal(wsi.size, 2 * 132 + 150, 'a folder settles on its total size')

    rmSync(join(root, 'wsi-2', 'level-1.dcm.part'))
    writeFileSync(join(root, 'wsi-2', 'level-1.dcm'), dicom(5))
    assert.ok((await findSlides(root)).some((f) => f.path.endsWith('wsi-2')), 'the copy finished: now a slide')
    assert.deepEqual(await findSlides(join(root, 'missing')), [])
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
