/**
 * An independent client: dicomweb-client (the library OHIF uses) stores, searches and retrieves
 * through the hub, in Node with the xhr2 XMLHttpRequest polyfill.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import XHR from 'xhr2'
import { startTestHub, PYDICOM_FILES, type TestHub } from './support/hub.ts'

;(globalThis as any).XMLHttpRequest = XHR
const { api } = (await import('dicomweb-client')) as any

const sha = (b: ArrayBuffer | Uint8Array) => createHash('sha256').update(new Uint8Array(b as ArrayBuffer)).digest('hex')

describe('dicomweb-client against the hub', () => {
  let hub: TestHub
  let client: any
  before(async () => {
    hub = await startTestHub()
    client = new api.DICOMwebClient({ url: hub.dicomweb, headers: { Authorization: `Bearer ${hub.adminToken}` } })
  })
  after(async () => hub?.close())

  it('stores, searches, reads metadata, retrieves instances and frames', async () => {
    const files = await Promise.all(['CT_small.dcm', 'MR_small.dcm', 'SC_rgb_jpeg_dcmtk.dcm'].map((f) => readFile(join(PYDICOM_FILES, f))))
    const datasets = files.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
    await client.storeInstances({ datasets })

    const studies = await client.searchForStudies({ queryParams: { PatientName: '*' } })
    assert.equal(studies.length, 3)
    const ct = (await client.searchForStudies({ queryParams: { ModalitiesInStudy: 'CT' } }))[0]
    const studyInstanceUID = ct['0020000D'].Value[0]
    const series = await client.searchForSeries({ studyInstanceUID })
    assert.equal(series.length, 1)
    const seriesInstanceUID = series[0]['0020000E'].Value[0]
    const instances = await client.searchForInstances({ studyInstanceUID, seriesInstanceUID })
    assert.equal(instances.length, 1)
    const sopInstanceUID = instances[0]['00080018'].Value[0]

    const metadata = await client.retrieveSeriesMetadata({ studyInstanceUID, seriesInstanceUID })
    assert.equal(metadata[0]['00080018'].Value[0], sopInstanceUID)
    assert.equal(metadata[0]['00280010'].Value[0], 128)

    const instance = await client.retrieveInstance({ studyInstanceUID, seriesInstanceUID, sopInstanceUID })
    assert.equal(sha(instance), sha(files[0]!))

    const frames = await client.retrieveInstanceFrames({ studyInstanceUID, seriesInstanceUID, sopInstanceUID, frameNumbers: [1] })
    assert.equal(frames.length, 1)
    assert.equal(frames[0].byteLength, 128 * 128 * 2)

    const rendered = await client.retrieveInstanceRendered({ studyInstanceUID, seriesInstanceUID, sopInstanceUID, mediaTypes: [{ mediaType: 'image/png' }] })
    const png = Array.isArray(rendered) ? rendered[0] : rendered // the client wraps single-part bodies in an array
    assert.deepEqual([...new Uint8Array(png).subarray(1, 4)], [0x50, 0x4e, 0x47])

    const study = await client.retrieveStudy({ studyInstanceUID })
    assert.equal(study.length, 1)
  })
})
