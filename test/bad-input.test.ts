/**
 * Bad input never half-stores and never stops the hub: broken multipart bodies, clients that
 * vanish mid-stream, lying or missing transfer syntaxes. (Large objects: large-object.test.ts.)
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { startTestHub, stowBody, PYDICOM_FILES, type TestHub } from './support/hub.ts'
import { splitMultipart } from './support/multipart.ts'
import { until } from './support/network.ts'

/** Every request below is the test administrator's unless a test says otherwise. */
let fetch: typeof globalThis.fetch = globalThis.fetch

const CT = 'multipart/related; type="application/dicom"; boundary=b0undary'

async function count(hub: TestHub): Promise<number> {
  const r = (await (await fetch(`${hub.dicomweb}/instances?limit=5000`)).json()) as unknown[]
  return r.length
}

async function objectCount(hub: TestHub): Promise<number> {
  let n = 0
  for await (const _ of hub.archive.objects.list('dicom/')) n++
  return n
}

describe('bad input', () => {
  let hub: TestHub
  let ct: Buffer
  before(async () => {
    hub = await startTestHub()
    fetch = hub.fetch
    ct = await readFile(join(PYDICOM_FILES, 'CT_small.dcm'))
  })
  after(async () => hub?.close())

  it('rejects a body whose boundary does not match the header (400), storing nothing', async () => {
    const { body } = stowBody([ct], 'the-real-boundary')
    const res = await fetch(`${hub.dicomweb}/studies`, { method: 'POST', headers: { 'content-type': CT }, body })
    assert.equal(res.status, 400)
    const err = (await res.json()) as { code: string; message: string }
    assert.equal(err.code, 'DICOMWEB_MULTIPART_BAD_BOUNDARY')
    assert.equal(await count(hub), 0)
  })

  it('rejects a missing boundary parameter and a non-multipart body (415)', async () => {
    const r1 = await fetch(`${hub.dicomweb}/studies`, { method: 'POST', headers: { 'content-type': 'multipart/related; type="application/dicom"' }, body: ct })
    assert.equal(r1.status, 415)
    const r2 = await fetch(`${hub.dicomweb}/studies`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    assert.equal(r2.status, 415)
  })

  it('keeps complete parts of a body that ends before its closing boundary (202) and stores nothing partial', async () => {
    const mr = await readFile(join(PYDICOM_FILES, 'MR_small.dcm'))
    const { body } = stowBody([ct, mr], 'b0undary')
    const cut = body.subarray(0, body.length - 5000) // inside the second part
    const res = await fetch(`${hub.dicomweb}/studies`, { method: 'POST', headers: { 'content-type': CT }, body: cut })
    const json = (await res.json()) as Record<string, any>
    assert.equal(res.status, 202, JSON.stringify(json))
    assert.equal(json['00081199'].Value.length, 1)
    assert.equal(json['00081198'].Value.length, 1)
    assert.equal(await count(hub), 1)
    assert.equal(await objectCount(hub), 1)
  })

  it('survives a client that disconnects mid-stream: nothing half-stored, no temp files, still serving', async () => {
    const before = await count(hub)
    const objectsBefore = await objectCount(hub)
    const mr = await readFile(join(PYDICOM_FILES, 'MR_small_implicit.dcm'))
    const big = Buffer.alloc(40 * 1024 * 1024, 7) // forces the spill-to-disk path
    await new Promise<void>((resolve) => {
      const url = new URL(`${hub.dicomweb}/studies`)
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': CT, authorization: `Bearer ${hub.adminToken}` } })
      req.on('error', () => resolve())
      req.write(`--b0undary\r\nContent-Type: application/dicom\r\n\r\n`)
      req.write(mr.subarray(0, mr.length - 100))
      req.write(big)
      setTimeout(() => {
        req.destroy()
        resolve()
      }, 300)
    })
    await new Promise((r) => setTimeout(r, 300))
    assert.equal((await fetch(`${hub.url}/healthz`)).status, 200)
    assert.equal(await count(hub), before)
    assert.equal(await objectCount(hub), objectsBefore)
    // The aborted request's temporary files are removed once the hub sees the disconnect: on a busy machine that can
    // take longer than the pause above, so wait for it (up to 10 s) rather than racing it.
    const tmp = join(hub.env.config.dataDir, 'tmp')
    await until('the temporary files removed', async () => (await readdir(tmp)).length === 0, 10_000).catch(() => {})
    assert.deepEqual(await readdir(tmp), [])
  })

  it('handles a missing or lying transfer syntax: parsed correctly or rejected with a DICOM error, never stored wrong', async () => {
    const bigEndian = await readFile(join(PYDICOM_FILES, 'ExplVR_BigEnd.dcm'))
    const lying = Buffer.from(bigEndian)
    const at = lying.indexOf('1.2.840.10008.1.2.2')
    lying.write('1.2.840.10008.1.2.1', at, 'latin1') // claims little endian, data is big endian
    const missing = await readFile(join(PYDICOM_FILES, 'meta_missing_tsyntax.dcm'))
    for (const file of [lying, missing]) {
      const { body, contentType } = stowBody([file])
      const res = await fetch(`${hub.dicomweb}/studies`, { method: 'POST', headers: { 'content-type': contentType }, body })
      const json = (await res.json()) as Record<string, any>
      if (res.status === 200) {
        const ref = json['00081199'].Value[0]
        const meta = await fetch(`${ref['00081190'].Value[0]}/metadata`)
        assert.equal(meta.status, 200)
      } else {
        assert.equal(res.status, 409, JSON.stringify(json))
        assert.match(json['00081198'].Value[0]['00000902'].Value[0], /^(DICOM|ARCHIVE)_/)
      }
    }
    assert.equal((await fetch(`${hub.url}/healthz`)).status, 200)
  })
})
