/**
 * Gateway → hub uploads end to end (docs/upload-protocol.md) on the backend under test: tus
 * creation, chunked PATCHes with per-chunk SHA-256, a bundle made by the system `tar`, a
 * connection cut mid-PATCH, whole-upload checks, access per collection, the study manifest and
 * expiry, all over real HTTP.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile, stat } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { synthStudies, type SynthInstance } from '@kura/dicom/synth'
import { createToken } from '@kura/hub'
import { bearerFetch, startTestHub, type TestHub } from './support/hub.ts'

const TUS = { 'tus-resumable': '1.0.0' }
const hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const b64sha = (b: Uint8Array) => createHash('sha256').update(b).digest('base64')
const b64 = (s: string) => Buffer.from(s).toString('base64')

interface Meta {
  kind: 'dicom' | 'dicom-bundle'
  collection: string
  sha256: string
  study: string
  count: number
}
const metadata = (m: Meta) => Object.entries(m).map(([k, v]) => `${k} ${b64(String(v))}`).join(',')

describe('uploads (tus) from a gateway', () => {
  let hub: TestHub
  let work: string
  const tokens: Record<'uploaderA' | 'researcher', string> = { uploaderA: '', researcher: '' }
  const as = bearerFetch

  async function create(bytes: Uint8Array, m: Meta, f = hub.fetch): Promise<Response> {
    return f(`${hub.url}/uploads`, { method: 'POST', headers: { ...TUS, 'upload-length': String(bytes.length), 'upload-metadata': metadata(m) } })
  }
  async function createOk(bytes: Uint8Array, m: Meta, f = hub.fetch): Promise<string> {
    const res = await create(bytes, m, f)
    assert.equal(res.status, 201, await res.text())
    assert.equal(res.headers.get('tus-resumable'), '1.0.0')
    assert.ok(res.headers.get('upload-expires'))
    const loc = res.headers.get('location')!
    assert.match(loc, /^\/uploads\/[0-9a-f-]{36}$/)
    return loc
  }
  function patch(loc: string, offset: number, body: Uint8Array, checksum: string | null = b64sha(body), f = hub.fetch): Promise<Response> {
    const headers: Record<string, string> = { ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset) }
    if (checksum) headers['upload-checksum'] = `sha256 ${checksum}`
    return f(`${hub.url}${loc}`, { method: 'PATCH', headers, body })
  }
  async function head(loc: string): Promise<Response> {
    return hub.fetch(`${hub.url}${loc}`, { method: 'HEAD', headers: TUS })
  }
  async function result(loc: string): Promise<any> {
    const res = await hub.fetch(`${hub.url}${loc}/result`)
    assert.equal(res.status, 200)
    return res.json()
  }
  /** Sends `bytes` in `chunks` PATCHes and returns the last response. */
  async function send(loc: string, bytes: Uint8Array, chunks: number): Promise<Response> {
    const size = Math.ceil(bytes.length / chunks)
    let res: Response | undefined
    for (let at = 0; at < bytes.length; at += size) {
      res = await patch(loc, at, bytes.subarray(at, at + size))
      if (at + size < bytes.length) {
        assert.equal(res.status, 204, await res.text())
        assert.equal(res.headers.get('upload-offset'), String(Math.min(bytes.length, at + size)))
      }
    }
    return res!
  }
  const ctSeries = (seed: number, n: number): SynthInstance[] =>
    [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: n, seed, modality: 'CT', sizes: { CT: { rows: 64, columns: 64 } } })]
  const metaOf = (insts: SynthInstance[], bytes: Uint8Array, collection = 'coll-a'): Meta => ({
    kind: insts.length === 1 ? 'dicom' : 'dicom-bundle', collection, sha256: hex(bytes), study: insts[0]!.studyInstanceUid, count: insts.length,
  })
  async function bundle(insts: SynthInstance[]): Promise<Buffer> {
    const dir = await mkdtemp(join(work, 'bundle-'))
    const names: string[] = []
    for (const i of insts) {
      const name = `${hex(i.bytes)}.dcm`
      await writeFile(join(dir, name), i.bytes)
      names.push(name)
    }
    const out = join(dir, 'bundle.tar')
    execFileSync('tar', ['--format=ustar', '-cf', out, '-C', dir, ...names])
    return readFile(out)
  }

  before(async () => {
    hub = await startTestHub()
    work = await mkdtemp(join(tmpdir(), 'kura-uploads-'))
    const admin = (path: string, body: unknown) => hub.fetch(`${hub.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    for (const name of ['coll-a', 'coll-b']) assert.equal((await admin('/api/collections', { name })).status, 201)
    assert.equal((await admin('/api/sites', { name: 'site-1' })).status, 201)
    for (const [key, role, site] of [['uploaderA', 'site_uploader', 'site-1'], ['researcher', 'researcher', undefined]] as const) {
      const u = (await (await admin('/api/users', { username: `u-${key}` })).json()) as any
      assert.equal((await admin('/api/grants', { userId: u.user.id, role, collection: 'coll-a', site })).status, 201)
      tokens[key] = (await createToken(hub.archive.catalog.db, { userId: u.user.id, name: key, role, collection: 'coll-a', site })).token
    }
  })
  after(async () => {
    await hub?.close()
    if (work) await rm(work, { recursive: true, force: true })
  })

  it('answers OPTIONS with the tus capabilities and refuses another tus version', async () => {
    const res = await hub.fetch(`${hub.url}/uploads`, { method: 'OPTIONS' })
    assert.equal(res.status, 204)
    assert.equal(res.headers.get('tus-version'), '1.0.0')
    assert.equal(res.headers.get('tus-extension'), 'creation,checksum,termination,expiration')
    assert.equal(res.headers.get('tus-checksum-algorithm'), 'sha256')
    assert.equal(res.headers.get('tus-max-size'), String(64 * 1024 ** 3))
    const old = await hub.fetch(`${hub.url}/uploads`, { method: 'POST', headers: { 'tus-resumable': '0.2.2', 'upload-length': '10' } })
    assert.equal(old.status, 412)
    assert.equal(old.headers.get('tus-resumable'), '1.0.0')
    const big = await hub.fetch(`${hub.url}/uploads`, { method: 'POST', headers: { ...TUS, 'upload-length': String(65 * 1024 ** 3), 'upload-metadata': metadata({ kind: 'dicom', collection: 'coll-a', sha256: 'a'.repeat(64), study: '1.2.3', count: 1 }) } })
    assert.equal(big.status, 413)
  })

  it('stores a single object sent in 3 checksummed chunks, as the site uploader', async () => {
    const [inst] = ctSeries(1, 1)
    const up = as(tokens.uploaderA)
    const loc = await createOk(inst!.bytes, metaOf([inst!], inst!.bytes), up)
    const size = Math.ceil(inst!.bytes.length / 3)
    for (let i = 0; i < 3; i++) {
      const res = await patch(loc, i * size, inst!.bytes.subarray(i * size, (i + 1) * size), undefined, up)
      assert.equal(res.status, 204, await res.text())
      assert.equal(res.headers.get('upload-offset'), String(Math.min(inst!.bytes.length, (i + 1) * size)))
    }
    const r = await (await up(`${hub.url}${loc}/result`)).json() as any
    assert.deepEqual(r, { state: 'complete', collection: 'coll-a', study: inst!.studyInstanceUid, objects: [{ sopInstanceUid: inst!.sopInstanceUid, sha256: hex(inst!.bytes), outcome: 'stored' }] })
    // Stored byte for byte.
    const wado = await hub.fetch(`${hub.dicomweb}/studies/${inst!.studyInstanceUid}/series/${inst!.seriesInstanceUid}/instances/${inst!.sopInstanceUid}`, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } })
    assert.equal(wado.status, 200)
    assert.ok(Buffer.from(await wado.arrayBuffer()).includes(Buffer.from(inst!.bytes)))
    assert.equal(existsSync(join(hub.env.config.dataDir, 'uploads', `${loc.split('/').pop()}.part`)), false, 'part file removed')
  })

  it('stores a bundle of 50 instances made by tar, and the manifest matches; the same again is all duplicate', async () => {
    const insts = ctSeries(2, 50)
    const tar = await bundle(insts)
    const loc = await createOk(tar, metaOf(insts, tar))
    const last = await send(loc, tar, 4)
    assert.equal(last.status, 204, await last.text())
    const r = await result(loc)
    assert.equal(r.state, 'complete')
    assert.equal(r.objects.length, 50)
    assert.deepEqual(new Set(r.objects.map((o: any) => o.outcome)), new Set(['stored']))
    assert.deepEqual(new Set(r.objects.map((o: any) => o.sopInstanceUid)), new Set(insts.map((i) => i.sopInstanceUid)))

    const manifest = await (await as(tokens.uploaderA)(`${hub.url}/uploads/studies/${insts[0]!.studyInstanceUid}`)).json() as any
    assert.equal(manifest.study, insts[0]!.studyInstanceUid)
    assert.equal(manifest.collection, 'coll-a')
    assert.deepEqual(manifest.series, [{ seriesInstanceUid: insts[0]!.seriesInstanceUid, instances: 50 }])
    const sent = new Map(insts.map((i) => [i.sopInstanceUid, hex(i.bytes)]))
    assert.deepEqual(new Map(manifest.instances.map((i: any) => [i.sopInstanceUid, i.sha256])), sent)

    const again = await createOk(tar, metaOf(insts, tar))
    assert.equal((await send(again, tar, 1)).status, 204)
    const r2 = await result(again)
    assert.equal(r2.objects.length, 50)
    assert.deepEqual(new Set(r2.objects.map((o: any) => o.outcome)), new Set(['duplicate']))
    const count = await (await hub.fetch(`${hub.dicomweb}/studies/${insts[0]!.studyInstanceUid}/instances`)).json() as unknown[]
    assert.equal(count.length, 50)
  })

  it('discards a chunk whose checksum is wrong (460, offset unchanged), then resumes', async () => {
    const [inst] = ctSeries(3, 1)
    const bytes = inst!.bytes
    const loc = await createOk(bytes, metaOf([inst!], bytes))
    const half = Math.floor(bytes.length / 2)
    assert.equal((await patch(loc, 0, bytes.subarray(0, half))).status, 204)
    const bad = await patch(loc, half, bytes.subarray(half), b64sha(Buffer.from('something else')))
    assert.equal(bad.status, 460)
    assert.equal(((await bad.json()) as any).code, 'UPLOAD_CHECKSUM_MISMATCH')
    const h = await head(loc)
    assert.equal(h.status, 200)
    assert.equal(h.headers.get('upload-offset'), String(half))
    assert.equal(h.headers.get('upload-length'), String(bytes.length))
    assert.equal(h.headers.get('cache-control'), 'no-store')
    assert.equal((await stat(join(hub.env.config.dataDir, 'uploads', `${loc.split('/').pop()}.part`))).size, half, 'nothing of the bad chunk kept')
    const wrongOffset = await patch(loc, 0, bytes.subarray(0, 10))
    assert.equal(wrongOffset.status, 409)
    assert.equal((await patch(loc, half, bytes.subarray(half))).status, 204)
    assert.equal((await result(loc)).objects[0].outcome, 'stored')
  })

  /** A PATCH whose body is held open: `finish()` sends the rest; `done` is its answer (status, body). */
  function openPatch(loc: string, offset: number, body: Uint8Array, checksum = b64sha(body)) {
    const u = new URL(`${hub.url}${loc}`)
    let finish!: () => void
    const done = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'PATCH', headers: {
        ...TUS, authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset),
        'content-length': String(body.length), 'upload-checksum': `sha256 ${checksum}`,
      } }, (res) => {
        let text = ''
        res.on('data', (c) => (text += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      })
      req.on('error', reject)
      req.write(body.subarray(0, 100))
      finish = () => req.end(body.subarray(100))
    })
    return { done, finish }
  }

  it('receives a PATCH behind one still being made durable (pipelined), and refuses it with the one before when that one is refused', async () => {
    const insts = ctSeries(21, 12)
    const tar = await bundle(insts)
    const loc = await createOk(tar, metaOf(insts, tar))
    const part = join(hub.env.config.dataDir, 'uploads', `${loc.split('/').pop()}.part`)
    const third = Math.floor(tar.length / 3)
    const pause = () => new Promise((r) => setTimeout(r, 100))
    // A refused chunk takes the one received behind it along: 460, then 409, nothing of either kept.
    const bad = openPatch(loc, 0, tar.subarray(0, third), b64sha(Buffer.from('not these bytes')))
    await pause()
    const behindBad = openPatch(loc, third, tar.subarray(third, 2 * third))
    await pause()
    bad.finish()
    behindBad.finish()
    assert.equal((await bad.done).status, 460)
    const refused = await behindBad.done
    assert.equal(refused.status, 409, refused.text)
    assert.equal((await head(loc)).headers.get('upload-offset'), '0')
    assert.equal((await stat(part)).size, 0, 'nothing of either chunk kept')
    // Three chunks, each sent before the answer to the one before: all accepted, the whole SHA-256 checked, stored.
    const p1 = openPatch(loc, 0, tar.subarray(0, third))
    await pause()
    const p2 = openPatch(loc, third, tar.subarray(third, 2 * third))
    await pause()
    p1.finish()
    await pause()
    const p3 = openPatch(loc, 2 * third, tar.subarray(2 * third))
    p2.finish()
    p3.finish()
    const answers = await Promise.all([p1.done, p2.done, p3.done])
    assert.deepEqual(answers.map((a) => a.status), [204, 204, 204], answers.map((a) => a.text).join(' | '))
    const r = await result(loc)
    assert.equal(r.state, 'complete')
    assert.deepEqual(r.objects.map((o: any) => o.outcome), insts.map(() => 'stored'))
    assert.equal(existsSync(part), false, 'part file removed')
  })

  it('survives a connection cut mid-PATCH: HEAD gives a consistent offset and the upload resumes', async () => {
    const insts = ctSeries(4, 20)
    const tar = await bundle(insts)
    const loc = await createOk(tar, metaOf(insts, tar))
    const first = Math.floor(tar.length / 3)
    assert.equal((await patch(loc, 0, tar.subarray(0, first))).status, 204)
    // Announce the rest, send half of it, and cut the socket.
    const rest = tar.subarray(first)
    await new Promise<void>((resolve) => {
      const u = new URL(`${hub.url}${loc}`)
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'PATCH', headers: {
        ...TUS, authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/offset+octet-stream', 'upload-offset': String(first),
        'content-length': String(rest.length), 'upload-checksum': `sha256 ${b64sha(rest)}`,
      } })
      req.on('error', () => resolve())
      req.on('close', () => resolve())
      req.write(rest.subarray(0, Math.floor(rest.length / 2)), () => setTimeout(() => req.destroy(), 50))
    })
    // Resume: HEAD (retrying while the broken request's lease is being released), then the rest.
    let offset = -1
    for (let i = 0; i < 50; i++) {
      const h = await head(loc)
      assert.equal(h.status, 200)
      offset = Number(h.headers.get('upload-offset'))
      const res = await patch(loc, offset, tar.subarray(offset))
      if (res.status === 409) { await new Promise((r) => setTimeout(r, 100)); continue }
      assert.equal(res.status, 204, await res.text())
      break
    }
    assert.equal(offset, first, 'a checksummed body cut short keeps nothing')
    const r = await result(loc)
    assert.equal(r.state, 'complete')
    assert.deepEqual(r.objects.map((o: any) => o.outcome), insts.map(() => 'stored'))
    // The SHA-256 the hub checked is the one sent: every object's bytes came back the same.
    const manifest = await (await hub.fetch(`${hub.url}/uploads/studies/${insts[0]!.studyInstanceUid}`)).json() as any
    assert.deepEqual(new Set(manifest.instances.map((i: any) => i.sha256)), new Set(insts.map((i) => hex(i.bytes))))
  })

  it('keeps the received prefix of a body without a checksum cut short (tus core), and completes', async () => {
    const [inst] = ctSeries(5, 1)
    const bytes = inst!.bytes
    const loc = await createOk(bytes, metaOf([inst!], bytes))
    await new Promise<void>((resolve) => {
      const u = new URL(`${hub.url}${loc}`)
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'PATCH', headers: {
        ...TUS, authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0', 'content-length': String(bytes.length),
      } })
      req.on('error', () => resolve())
      req.on('close', () => resolve())
      req.write(bytes.subarray(0, 5000), () => setTimeout(() => req.destroy(), 100))
    })
    let done = false
    for (let i = 0; i < 50 && !done; i++) {
      const offset = Number((await head(loc)).headers.get('upload-offset'))
      const res = await patch(loc, offset, bytes.subarray(offset))
      if (res.status === 409) { await new Promise((r) => setTimeout(r, 100)); continue }
      assert.equal(res.status, 204, await res.text())
      assert.ok(offset > 0 && offset <= 5000, `kept ${offset}`)
      done = true
    }
    assert.ok(done)
    assert.equal((await result(loc)).objects[0].outcome, 'stored')
  })

  it('fails the completing PATCH clearly when the whole SHA-256 is wrong, and stores nothing', async () => {
    const [inst] = ctSeries(6, 1)
    const loc = await createOk(inst!.bytes, { ...metaOf([inst!], inst!.bytes), sha256: hex(Buffer.from('not it')) })
    const res = await send(loc, inst!.bytes, 2)
    assert.equal(res.status, 422)
    const err = (await res.json()) as any
    assert.equal(err.code, 'UPLOAD_SHA256_MISMATCH')
    assert.match(err.message, /nothing was stored/)
    const r = await result(loc)
    assert.equal(r.state, 'failed')
    assert.deepEqual(r.objects, [])
    assert.equal((await head(loc)).status, 410)
    assert.equal((await hub.fetch(`${hub.url}/uploads/studies/${inst!.studyInstanceUid}`)).status, 404)
    const qido = await hub.fetch(`${hub.dicomweb}/instances?StudyInstanceUID=${inst!.studyInstanceUid}`)
    assert.deepEqual(qido.status === 204 ? [] : await qido.json(), [])
  })

  it('refuses a bundle entry whose name is not its SHA-256, storing the others', async () => {
    const insts = ctSeries(7, 2)
    const dir = await mkdtemp(join(work, 'bad-'))
    await writeFile(join(dir, `${hex(insts[0]!.bytes)}.dcm`), insts[0]!.bytes)
    await writeFile(join(dir, `${'0'.repeat(64)}.dcm`), insts[1]!.bytes)
    execFileSync('tar', ['--format=ustar', '-cf', join(dir, 'b.tar'), '-C', dir, `${hex(insts[0]!.bytes)}.dcm`, `${'0'.repeat(64)}.dcm`])
    const tar = await readFile(join(dir, 'b.tar'))
    const loc = await createOk(tar, metaOf(insts, tar))
    assert.equal((await send(loc, tar, 1)).status, 204)
    const outcomes = (await result(loc)).objects.map((o: any) => o.outcome).sort()
    assert.deepEqual(outcomes, ['rejected', 'stored'])
  })

  it('checks access: a researcher gets 403, an uploader cannot create into or patch another collection', async () => {
    const [inst] = ctSeries(8, 1)
    const bytes = inst!.bytes
    const r = await create(bytes, metaOf([inst!], bytes), as(tokens.researcher))
    assert.equal(r.status, 403)
    const intoB = await create(bytes, metaOf([inst!], bytes, 'coll-b'), as(tokens.uploaderA))
    assert.equal(intoB.status, 403)
    assert.equal(((await intoB.json()) as any).code, 'FORBIDDEN')
    // An upload into B made by the admin is invisible to the uploader of A.
    const locB = await createOk(bytes, metaOf([inst!], bytes, 'coll-b'))
    assert.equal((await patch(locB, 0, bytes, undefined, as(tokens.uploaderA))).status, 404)
    assert.equal((await as(tokens.uploaderA)(`${hub.url}${locB}`, { method: 'HEAD', headers: TUS })).status, 404)
    assert.equal((await as(tokens.uploaderA)(`${hub.url}${locB}`, { method: 'DELETE', headers: TUS })).status, 404)
    assert.equal((await head(locB)).headers.get('upload-offset'), '0')
    // Termination by someone allowed.
    assert.equal((await hub.fetch(`${hub.url}${locB}`, { method: 'DELETE', headers: TUS })).status, 204)
    assert.equal((await head(locB)).status, 404)
    // The manifest of a study in B is hidden from A's uploader.
    assert.equal((await patch(await createOk(bytes, metaOf([inst!], bytes, 'coll-b')), 0, bytes)).status, 204)
    assert.equal((await as(tokens.uploaderA)(`${hub.url}/uploads/studies/${inst!.studyInstanceUid}`)).status, 404)
    assert.equal((await hub.fetch(`${hub.url}/uploads/studies/${inst!.studyInstanceUid}`)).status, 200)
  })

  it('expires an upload 24 h after its last PATCH: 410 and the bytes removed', async () => {
    const [inst] = ctSeries(9, 1)
    const bytes = inst!.bytes
    const loc = await createOk(bytes, metaOf([inst!], bytes))
    assert.equal((await patch(loc, 0, bytes.subarray(0, 100))).status, 204)
    const id = loc.split('/').pop()!
    const part = join(hub.env.config.dataDir, 'uploads', `${id}.part`)
    assert.equal((await stat(part)).size, 100)
    // Time travel in the catalog: the last PATCH was 24 h and a second ago.
    await hub.archive.catalog.db.updateTable('upload').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', id).execute()
    assert.equal((await head(loc)).status, 410)
    assert.equal(existsSync(part), false)
    assert.equal((await patch(loc, 100, bytes.subarray(100))).status, 410)
  })
})
