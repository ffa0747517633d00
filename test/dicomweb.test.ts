/**
 * End-to-end DICOMweb on the backend under test (KURA_TEST_BACKEND): real pydicom test files
 * stored by STOW-RS, found by QIDO-RS, retrieved by WADO-RS byte for byte, read back by pydicom.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile, mkdtemp } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import sharp from 'sharp'
import { startTestHub, stowBody, PYDICOM_FILES, type TestHub } from './support/hub.ts'
import { splitMultipart } from './support/multipart.ts'
import { python, requireTool } from './support/tools.ts'

/** Every request below is the test administrator's unless a test says otherwise. */
let fetch: typeof globalThis.fetch = globalThis.fetch

/** Distinct SOP Instance UIDs covering every transfer syntax family pydicom ships. */
const FILES = [
  'CT_small.dcm', // explicit VR little endian
  'MR_small_implicit.dcm', // implicit VR little endian
  'ExplVR_BigEnd.dcm', // explicit VR big endian
  'image_dfl.dcm', // deflated
  'SC_rgb_jpeg_dcmtk.dcm', // JPEG baseline
  'SC_rgb_jpeg_gdcm.dcm', // JPEG lossless
  '693_J2KI.dcm', // JPEG 2000
  'rtdose_rle.dcm', // RLE, 15 frames
  'waveform_ecg.dcm', // no pixel data, waveform bulk data
  'test-SR.dcm', // structured report, nested sequences
  'liver_1frame.dcm', // segmentation
]

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

async function stow(hub: TestHub, files: Uint8Array[], path = '/studies', query = '') {
  const { body, contentType } = stowBody(files)
  const res = await fetch(`${hub.dicomweb}${path}${query}`, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/dicom+json' }, body })
  return { status: res.status, json: (await res.json()) as Record<string, any> }
}

/** Study, series and SOP Instance UIDs of each test file, as pydicom reads them (one python run). */
let uids: Record<string, [string, string, string]> | undefined
function uidOf(f: string): string {
  uids ??= JSON.parse(
    python(
      'import pydicom,sys,json; print(json.dumps({f: (lambda d: [d.StudyInstanceUID,d.SeriesInstanceUID,d.SOPInstanceUID])(pydicom.dcmread(sys.argv[1]+"/"+f,stop_before_pixels=True)) for f in sys.argv[2:]}))',
      [PYDICOM_FILES, ...FILES, 'MR_small.dcm'],
    ),
  )
  return JSON.stringify(uids![f])
}

describe('DICOMweb STOW/QIDO/WADO with pydicom test files', () => {
  let hub: TestHub
  const originals = new Map<string, Buffer>()
  before(async () => {
    hub = await startTestHub()
    fetch = hub.fetch
    for (const f of FILES) originals.set(f, await readFile(join(PYDICOM_FILES, f)))
  })
  after(async () => hub?.close())

  it('stores every file in one request (200, ReferencedSOPSequence lists each)', async (t) => {
    if (!requireTool(t, 'pydicom', 'apt-get install python3-pydicom')) return
    const { status, json } = await stow(hub, [...originals.values()])
    assert.equal(status, 200, JSON.stringify(json))
    const refs = json['00081199'].Value as any[]
    assert.equal(refs.length, FILES.length)
    assert.equal(json['00081198'], undefined)
    for (const r of refs) assert.match(r['00081190'].Value[0], /^http:\/\/127\.0\.0\.1:\d+\/dicomweb\/studies\/[\d.]+\/series\/[\d.]+\/instances\/[\d.]+$/)
  })

  it('is idempotent: the same files again are one instance each', async () => {
    const before = await (await fetch(`${hub.dicomweb}/instances?limit=1000`)).json() as unknown[]
    const { status } = await stow(hub, [originals.get('CT_small.dcm')!, originals.get('rtdose_rle.dcm')!])
    assert.equal(status, 200)
    const afterList = await (await fetch(`${hub.dicomweb}/instances?limit=1000`)).json() as unknown[]
    assert.equal(afterList.length, before.length)
    assert.equal(afterList.length, FILES.length)
  })

  it('reports a conflict per instance for the same SOP Instance UID with other content (409), never overwriting', async () => {
    const other = await readFile(join(PYDICOM_FILES, 'MR_small.dcm')) // same SOP UID as MR_small_implicit, other bytes
    const { status, json } = await stow(hub, [other])
    assert.equal(status, 409)
    const failed = json['00081198'].Value[0]
    assert.equal(failed['00081197'].Value[0], 0x0111)
    assert.equal(failed['00000902'].Value[0], 'ARCHIVE_CONFLICT')
    const [st, se, sop] = JSON.parse(uidOf('MR_small_implicit.dcm'))
    const res = await fetch(`${hub.dicomweb}/studies/${st}/series/${se}/instances/${sop}`, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } })
    const [part] = splitMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!)
    assert.equal(sha(part!.body), sha(originals.get('MR_small_implicit.dcm')!))
  })

  it('returns 202 when some instances fail, with FailedSOPSequence and reasons', async () => {
    const junk = Buffer.from('this is not a DICOM file at all, it is text')
    const truncated = await readFile(join(PYDICOM_FILES, 'MR_truncated.dcm'))
    const { status, json } = await stow(hub, [originals.get('CT_small.dcm')!, junk, truncated])
    assert.equal(status, 202)
    assert.equal(json['00081199'].Value.length, 1)
    const failed = json['00081198'].Value as any[]
    assert.equal(failed.length, 2)
    for (const f of failed) assert.equal(f['00081197'].Value[0], 0xc000)
    assert.deepEqual(failed.map((f) => f['00000902'].Value[0]).sort(), ['DICOM_NOT_DICOM', 'DICOM_TRUNCATED'])
  })

  it('finds studies by QIDO with the required attributes, counts and wildcards', async (t) => {
    if (!requireTool(t, 'pydicom', 'apt-get install python3-pydicom')) return
    const [st] = JSON.parse(uidOf('CT_small.dcm'))
    const res = await fetch(`${hub.dicomweb}/studies?StudyInstanceUID=${st}`, { headers: { accept: 'application/dicom+json' } })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type')!, /^application\/dicom\+json/)
    const [study] = (await res.json()) as any[]
    assert.equal(study['0020000D'].Value[0], st)
    for (const tag of ['00080020', '00080030', '00080050', '00080056', '00080061', '00080090', '00081190', '00100010', '00100020', '00100030', '00100040', '00200010', '00201206', '00201208']) {
      assert.ok(tag in study, `study result lacks ${tag}`)
    }
    assert.deepEqual(study['00080061'].Value, ['CT'])
    assert.equal(study['00201208'].Value[0], 1)
    const name = study['00100010'].Value[0].Alphabetic as string
    const byName = (await (await fetch(`${hub.dicomweb}/studies?PatientName=${encodeURIComponent(name.slice(0, 3) + '*')}`)).json()) as any[]
    assert.ok(byName.some((s) => s['0020000D'].Value[0] === st))
    const none = (await (await fetch(`${hub.dicomweb}/studies?PatientName=NOBODY*`)).json()) as any[]
    assert.equal(none.length, 0)
  })

  it('matches UID lists, date ranges, modality and nested series/instance searches', async () => {
    const all = (await (await fetch(`${hub.dicomweb}/studies`)).json()) as any[]
    const uids = all.slice(0, 2).map((s) => s['0020000D'].Value[0])
    const listed = (await (await fetch(`${hub.dicomweb}/studies?StudyInstanceUID=${uids.join('\\')}`)).json()) as any[]
    assert.deepEqual(listed.map((s) => s['0020000D'].Value[0]).sort(), [...uids].sort())
    const dated = all.find((s) => s['00080020']?.Value?.[0])
    const d = dated['00080020'].Value[0] as string
    const inRange = (await (await fetch(`${hub.dicomweb}/studies?StudyDate=${d}-${d}`)).json()) as any[]
    assert.ok(inRange.length >= 1 && inRange.every((s) => s['00080020'].Value[0] === d))
    const openEnd = (await (await fetch(`${hub.dicomweb}/studies?StudyDate=${d}-`)).json()) as any[]
    assert.ok(openEnd.every((s) => s['00080020'].Value[0] >= d))
    const ct = (await (await fetch(`${hub.dicomweb}/studies?ModalitiesInStudy=CT`)).json()) as any[]
    assert.ok(ct.length >= 1 && ct.every((s) => s['00080061'].Value.includes('CT')))
    const st = dated['0020000D'].Value[0]
    const series = (await (await fetch(`${hub.dicomweb}/studies/${st}/series`)).json()) as any[]
    assert.ok(series.length >= 1)
    for (const s of series) for (const tag of ['00080060', '0020000E', '00201209', '00081190']) assert.ok(tag in s, `series lacks ${tag}`)
    const se = series[0]['0020000E'].Value[0]
    const inst = (await (await fetch(`${hub.dicomweb}/studies/${st}/series/${se}/instances?includefield=all`)).json()) as any[]
    assert.equal(inst.length, series[0]['00201209'].Value[0])
    for (const i of inst) for (const tag of ['00080016', '00080018', '00081190']) assert.ok(tag in i, `instance lacks ${tag}`)
    const page = (await (await fetch(`${hub.dicomweb}/studies?limit=1&offset=1`)).json()) as any[]
    assert.equal(page.length, 1)
    assert.equal(page[0]['0020000D'].Value[0], all[1]['0020000D'].Value[0])
    const bad = await fetch(`${hub.dicomweb}/studies?NoSuchKeyword=1`)
    assert.equal(bad.status, 400)
  })

  it('retrieves every instance byte for byte, and pydicom reads what WADO-RS returns', async (t) => {
    if (!requireTool(t, 'pydicom', 'apt-get install python3-pydicom')) return
    const dir = await mkdtemp(join(tmpdir(), 'kura-wado-'))
    for (const f of FILES) {
      const [st, se, sop] = JSON.parse(uidOf(f))
      const res = await fetch(`${hub.dicomweb}/studies/${st}/series/${se}/instances/${sop}`, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } })
      assert.equal(res.status, 200, f)
      const parts = splitMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!)
      assert.equal(parts.length, 1)
      assert.equal(sha(parts[0]!.body), sha(originals.get(f)!), `${f} changed in the archive`)
      await writeFile(join(dir, f), parts[0]!.body)
    }
    const back = JSON.parse(python('import pydicom,sys,json; print(json.dumps([pydicom.dcmread(sys.argv[1]+"/"+f).SOPInstanceUID for f in sys.argv[2:]]))', [dir, ...FILES]))
    assert.deepEqual(back, FILES.map((f) => JSON.parse(uidOf(f))[2]))
  })

  it('transcodes natively stored instances to Explicit VR Little Endian when that is asked for (the default)', async (t) => {
    if (!requireTool(t, 'pydicom', 'apt-get install python3-pydicom')) return
    const dir = await mkdtemp(join(tmpdir(), 'kura-wado-ts-'))
    for (const f of ['MR_small_implicit.dcm', 'ExplVR_BigEnd.dcm']) {
      const [st, se, sop] = JSON.parse(uidOf(f))
      const res = await fetch(`${hub.dicomweb}/studies/${st}/series/${se}/instances/${sop}`, { headers: { accept: 'multipart/related; type="application/dicom"' } })
      assert.equal(res.status, 200)
      const [part] = splitMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!)
      assert.match(part!.headers['content-type']!, /transfer-syntax=1\.2\.840\.10008\.1\.2\.1$/)
      await writeFile(join(dir, f), part!.body)
    }
    const same = python(
      'import pydicom,sys\nfor f in sys.argv[3:]:\n a=pydicom.dcmread(sys.argv[1]+"/"+f); b=pydicom.dcmread(sys.argv[2]+"/"+f)\n assert b.file_meta.TransferSyntaxUID=="1.2.840.10008.1.2.1", f\n assert (a.pixel_array==b.pixel_array).all(), f\n assert a.PatientName==b.PatientName, f\nprint("ok")',
      [PYDICOM_FILES, dir, 'MR_small_implicit.dcm', 'ExplVR_BigEnd.dcm'],
    )
    assert.equal(same.trim(), 'ok')
    const [st, se, sop] = JSON.parse(uidOf('693_J2KI.dcm'))
    const compressed = await fetch(`${hub.dicomweb}/studies/${st}/series/${se}/instances/${sop}`, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1' } })
    assert.equal(compressed.status, 406, 'compressed originals are not decoded')
  })

  it('serves metadata as DICOM JSON with absolute BulkDataURIs that resolve', async (t) => {
    if (!requireTool(t, 'pydicom', 'apt-get install python3-pydicom')) return
    const [st, se, sop] = JSON.parse(uidOf('CT_small.dcm'))
    const res = await fetch(`${hub.dicomweb}/studies/${st}/series/${se}/metadata`)
    assert.equal(res.status, 200)
    const [meta] = (await res.json()) as any[]
    assert.equal(meta['00080018'].Value[0], sop)
    const pixel = meta['7FE00010']
    assert.ok(pixel.BulkDataURI, 'pixel data is referenced, not inlined')
    assert.ok(pixel.BulkDataURI.startsWith(`${hub.dicomweb}/studies/${st}/series/${se}/instances/${sop}/bulk/`))
    const bulk = await fetch(pixel.BulkDataURI, { headers: { accept: 'multipart/related; type="application/octet-stream"' } })
    assert.equal(bulk.status, 200)
    const [part] = splitMultipart(Buffer.from(await bulk.arrayBuffer()), bulk.headers.get('content-type')!)
    const expected = Buffer.from(python('import pydicom,sys; sys.stdout.write(pydicom.dcmread(sys.argv[1]).PixelData.hex())', [join(PYDICOM_FILES, 'CT_small.dcm')]), 'hex')
    assert.ok(part!.body.equals(expected), 'bulk pixel data equals what pydicom reads')
  })

  it('returns frames: native as octet-stream, encapsulated in their own media type', async (t) => {
    if (!requireTool(t, 'pydicom', 'apt-get install python3-pydicom')) return
    const [st, se, sop] = JSON.parse(uidOf('rtdose_rle.dcm'))
    const res = await fetch(`${hub.dicomweb}/studies/${st}/series/${se}/instances/${sop}/frames/1,15`, { headers: { accept: 'multipart/related; type="image/x-dicom-rle"' } })
    assert.equal(res.status, 200)
    const parts = splitMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!)
    assert.equal(parts.length, 2)
    assert.match(parts[0]!.headers['content-type']!, /image\/x-dicom-rle/)
    const out = await fetch(`${hub.dicomweb}/studies/${st}/series/${se}/instances/${sop}/frames/16`)
    assert.equal(out.status, 404)
    const notAcceptable = await fetch(`${hub.dicomweb}/studies/${st}/series/${se}/instances/${sop}/frames/1`, { headers: { accept: 'multipart/related; type="application/octet-stream"' } })
    assert.equal(notAcceptable.status, 406)

    const [cst, cse, csop] = JSON.parse(uidOf('CT_small.dcm'))
    const native = await fetch(`${hub.dicomweb}/studies/${cst}/series/${cse}/instances/${csop}/frames/1`, { headers: { accept: 'multipart/related; type="application/octet-stream"' } })
    assert.equal(native.status, 200)
    const [frame] = splitMultipart(Buffer.from(await native.arrayBuffer()), native.headers.get('content-type')!)
    assert.equal(frame!.body.length, 128 * 128 * 2)
  })

  it('renders JPEG and PNG with windowing, and thumbnails', async (t) => {
    if (!requireTool(t, 'pydicom', 'apt-get install python3-pydicom')) return
    const [st, se, sop] = JSON.parse(uidOf('CT_small.dcm'))
    const base = `${hub.dicomweb}/studies/${st}/series/${se}/instances/${sop}`
    const jpeg = await fetch(`${base}/rendered`, { headers: { accept: 'image/jpeg' } })
    assert.equal(jpeg.status, 200)
    assert.equal(jpeg.headers.get('content-type'), 'image/jpeg')
    const meta = await sharp(Buffer.from(await jpeg.arrayBuffer())).metadata()
    assert.equal(meta.width, 128)
    const png1 = Buffer.from(await (await fetch(`${base}/rendered?window=40,400`, { headers: { accept: 'image/png' } })).arrayBuffer())
    const png2 = Buffer.from(await (await fetch(`${base}/rendered?window=1000,100`, { headers: { accept: 'image/png' } })).arrayBuffer())
    const s1 = await sharp(png1).stats()
    const s2 = await sharp(png2).stats()
    assert.notEqual(Math.round(s1.channels[0]!.mean), Math.round(s2.channels[0]!.mean), 'the window changes the picture')
    const thumb = await fetch(`${hub.dicomweb}/studies/${st}/thumbnail`, { headers: { accept: 'image/jpeg' } })
    assert.equal(thumb.status, 200)
    assert.ok(((await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()).width ?? 999) <= 128)
    const gif = await fetch(`${base}/rendered`, { headers: { accept: 'image/gif' } })
    assert.equal(gif.status, 406)
  })

  it('refuses STOW to /studies/{uid} for instances of another study', async () => {
    const { status, json } = await stow(hub, [originals.get('CT_small.dcm')!], '/studies/1.2.3.4')
    assert.equal(status, 409)
    assert.equal(json['00081198'].Value[0]['00000902'].Value[0], 'ARCHIVE_STUDY_MISMATCH')
  })

  it('deletes a study: its instances, catalog rows and originals go', async (t) => {
    if (!requireTool(t, 'pydicom', 'apt-get install python3-pydicom')) return
    const [st] = JSON.parse(uidOf('waveform_ecg.dcm'))
    const del = await fetch(`${hub.dicomweb}/studies/${st}`, { method: 'DELETE' })
    assert.equal(del.status, 204)
    assert.equal((await fetch(`${hub.dicomweb}/studies/${st}/metadata`)).status, 404)
    const found = (await (await fetch(`${hub.dicomweb}/studies?StudyInstanceUID=${st}`)).json()) as any[]
    assert.equal(found.length, 0)
    const key = `dicom/${sha(originals.get('waveform_ecg.dcm')!).slice(0, 2)}`
    let left = 0
    for await (const o of hub.archive.objects.list(key)) if (o.key.endsWith(sha(originals.get('waveform_ecg.dcm')!))) left++
    assert.equal(left, 0, 'the original is gone from the object store')
    assert.equal((await fetch(`${hub.dicomweb}/studies/${st}`, { method: 'DELETE' })).status, 404)
  })
})
