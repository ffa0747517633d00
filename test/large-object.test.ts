/**
 * A multi-gigabyte multi-frame object streams through STOW-RS into a separate hub process whose
 * memory stays flat, and one frame of it is then served by a byte-range read.
 * Size: KURA_TEST_LARGE_MB (default 2100 on the embedded default, 300 on PostgreSQL + S3).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { writeDicom } from '@kura/dicom'
import { testHubConfig, type TestBackendConfig } from './support/backend.ts'
import { splitMultipart } from './support/multipart.ts'
import { rssOf, startHubProcess, stopHubProcess } from './support/process.ts'
import { adminTokenFor } from './support/hub.ts'

const ROWS = 512
const COLS = 512
const FRAME_BYTES = ROWS * COLS * 2

function header(frames: number): Uint8Array {
  return writeDicom({
    dataset: [
      { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7.3' },
      { tag: 0x00080018, vr: 'UI', value: '2.25.900000000000000000000000000000001' },
      { tag: 0x00080060, vr: 'CS', value: 'OT' },
      { tag: 0x00100010, vr: 'PN', value: 'Large^Object' },
      { tag: 0x00100020, vr: 'LO', value: 'LARGE1' },
      { tag: 0x0020000d, vr: 'UI', value: '2.25.900000000000000000000000000000002' },
      { tag: 0x0020000e, vr: 'UI', value: '2.25.900000000000000000000000000000003' },
      { tag: 0x00280002, vr: 'US', value: 1 },
      { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
      { tag: 0x00280008, vr: 'IS', value: String(frames) },
      { tag: 0x00280010, vr: 'US', value: ROWS },
      { tag: 0x00280011, vr: 'US', value: COLS },
      { tag: 0x00280100, vr: 'US', value: 16 },
      { tag: 0x00280101, vr: 'US', value: 16 },
      { tag: 0x00280102, vr: 'US', value: 15 },
      { tag: 0x00280103, vr: 'US', value: 0 },
    ],
  })
}

/** The STOW body, generated as it is sent: header, then frames each stamped with their number. */
async function* body(frames: number): AsyncGenerator<Buffer> {
  yield Buffer.from('--b0undary\r\nContent-Type: application/dicom\r\n\r\n')
  yield Buffer.from(header(frames))
  const pixelHeader = Buffer.alloc(12)
  pixelHeader.writeUInt16LE(0x7fe0, 0)
  pixelHeader.writeUInt16LE(0x0010, 2)
  pixelHeader.write('OW', 4, 'latin1')
  pixelHeader.writeUInt32LE(frames * FRAME_BYTES, 8)
  yield pixelHeader
  for (let f = 0; f < frames; f++) {
    const frame = Buffer.alloc(FRAME_BYTES)
    frame.writeUInt16LE(f & 0xffff, 0)
    yield frame
  }
  yield Buffer.from('\r\n--b0undary--\r\n')
}

describe('large multi-frame object', () => {
  let env: TestBackendConfig
  let hub: Awaited<ReturnType<typeof startHubProcess>>
  let token: string
  before(async () => {
    env = await testHubConfig()
    hub = await startHubProcess(env)
    token = await adminTokenFor(env)
  })
  after(async () => {
    await stopHubProcess(hub)
    await env?.cleanup()
  })

  it('streams through STOW-RS with flat server memory, then serves its last frame', { timeout: 300_000 }, async () => {
    const targetMb = Number(process.env.KURA_TEST_LARGE_MB ?? (env.backend === 'sqlite' ? 2100 : 300))
    const frames = Math.ceil((targetMb * 1024 * 1024) / FRAME_BYTES)
    const pid = hub.child.pid!
    const baseline = await rssOf(pid)
    let peak = baseline
    const sampler = setInterval(() => void rssOf(pid).then((r) => (peak = Math.max(peak, r))), 100)
    const url = new URL(`${hub.url}/dicomweb/studies`)
    const started = Date.now()
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=b0undary', authorization: `Bearer ${token}` } }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      })
      req.on('error', reject)
      pipeline(Readable.from(body(frames)), req).catch(reject)
    })
    clearInterval(sampler)
    const seconds = (Date.now() - started) / 1000
    console.log(`# large object: ${targetMb} MB in ${seconds.toFixed(1)} s (${(targetMb / seconds).toFixed(0)} MB/s), hub RSS ${(baseline / 1048576).toFixed(0)} → peak ${(peak / 1048576).toFixed(0)} MB`)
    assert.equal(status, 200, text)
    assert.ok(peak - baseline < 150 * 1024 * 1024, `hub RSS grew by ${((peak - baseline) / 1048576).toFixed(0)} MB`)

    const instance = JSON.parse(text)['00081199'].Value[0]['00081190'].Value[0] as string
    const fr = await fetch(`${instance}/frames/${frames}`, { headers: { accept: 'multipart/related; type="application/octet-stream"', authorization: `Bearer ${token}` } })
    assert.equal(fr.status, 200)
    const [part] = splitMultipart(Buffer.from(await fr.arrayBuffer()), fr.headers.get('content-type')!)
    assert.equal(part!.body.length, FRAME_BYTES)
    assert.equal(part!.body.readUInt16LE(0), (frames - 1) & 0xffff)
  })
})
