/**
 * Annotation interchange over HTTP on a real hub: a synthetic slide is stored, QuPath samples are imported and
 * exported back equal to the originals, an unmapped class is refused with the list, and an AI export runs to a
 * manifest whose files (fetched one by one and as a tar) match their SHA-256.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { Readable } from 'node:stream'
import { writeTiffSlide } from '@kura/wsi/synth'
import { readSample, sampleFiles } from '../packages/hub/src/annotations/interchange/testing.ts'
import { main } from '../packages/cli/src/main.ts'
import { startTestHub, type TestHub } from './support/hub.ts'

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
const T = 'KURA-HE-TISSUE'
const labels = { '': { system: T, code: 'tumour' }, Cell: { system: T, code: 'lymphocytes' }, Nucleus: { system: T, code: 'necrosis' } }

let hub: TestHub
let dir: string

async function newSlide(seed: number): Promise<string> {
  const path = join(dir, `s${seed}.tiff`)
  await writeTiffSlide(path, { width: 1024, height: 768, tile: 256, mpp: 0.5, seed, threads: 1 })
  const res = await hub.fetch(`${hub.url}/slides?collection=interchange`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Readable.toWeb(createReadStream(path)) as ReadableStream,
    duplex: 'half',
  } as RequestInit)
  assert.ok(res.status === 201 || res.status === 200, `slide upload: ${res.status} ${await res.clone().text()}`)
  return ((await res.json()) as { id: string }).id
}

const importUrl = (slide: string, format: string, extra = '') => `${hub.url}/api/slides/${slide}/annotations/import?format=${format}&labels=${encodeURIComponent(JSON.stringify(labels))}${extra}`

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kura-interchange-'))
  hub = await startTestHub()
  assert.equal((await hub.fetch(`${hub.url}/api/collections`, json({ name: 'interchange' }))).status, 201)
})
after(async () => {
  await hub?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('annotation interchange over HTTP', () => {
  it('imports every QuPath sample and exports each back equal to the original', async () => {
    for (const f of [...sampleFiles('qupath_geojson'), ...sampleFiles('qupath_geojson_advanced')]) {
      const slide = await newSlide(3)
      const text = readSample(f)
      const res = await hub.fetch(importUrl(slide, 'qupath'), { method: 'POST', headers: { 'content-type': 'application/geo+json' }, body: text })
      assert.equal(res.status, 201, `${basename(f)}: ${await res.clone().text()}`)
      const doc = JSON.parse(text) as unknown
      const container = Array.isArray(doc) ? 'FeatureArray' : 'Feature'
      const out = await hub.fetch(`${hub.url}/api/slides/${slide}/annotations/export?format=geojson&container=${container}`)
      assert.equal(out.status, 200)
      assert.deepStrictEqual(await out.json(), doc, basename(f))
      // Slides are content-addressed: the same synthetic bytes are the same slide, so clean up for the next sample.
      const ids = ((await (await hub.fetch(`${hub.url}/api/slides/${slide}/annotations`)).json()) as { annotations?: { id: string }[] } | { id: string }[])
      for (const a of Array.isArray(ids) ? ids : (ids.annotations ?? [])) await hub.fetch(`${hub.url}/api/annotations/${a.id}`, { method: 'DELETE' })
    }
  })

  it('refuses a file with an unmapped class and lists it; holds it back on request', async () => {
    const slide = await newSlide(4)
    const text = readSample(sampleFiles('qupath_geojson_advanced')[0]!)
    const url = `${hub.url}/api/slides/${slide}/annotations/import?format=qupath&labels=${encodeURIComponent(JSON.stringify({ Cell: labels.Cell }))}`
    const res = await hub.fetch(url, { method: 'POST', body: text })
    assert.equal(res.status, 422)
    const body = (await res.json()) as { code: string; unmapped: unknown }
    assert.equal(body.code, 'INTERCHANGE_UNMAPPED_CLASSES')
    assert.deepEqual(body.unmapped, [{ className: 'Nucleus', count: 2 }])
    const held = await hub.fetch(`${url}&onUnmapped=hold`, { method: 'POST', body: text })
    assert.equal(held.status, 201)
    assert.deepEqual(((await held.json()) as { imported: number; held: number }).held, 2)
  })

  it('imports Cytomine with y flipped by the slide height, and answers a missing slide with 404', async () => {
    const slide = await newSlide(5)
    const res = await hub.fetch(importUrl(slide, 'cytomine'), { method: 'POST', body: readSample(sampleFiles('cytomine').find((f) => f.endsWith('point.txt'))!) })
    assert.equal(res.status, 201, await res.clone().text())
    const out = (await (await hub.fetch(`${hub.url}/api/slides/${slide}/annotations/export?format=geojson`)).json()) as { features: { geometry: { coordinates: number[] } }[] }
    assert.deepEqual(out.features[0]!.geometry.coordinates, [27646, 768 - 19349.34375])
    const missing = await hub.fetch(importUrl('00000000-0000-7000-8000-000000000000', 'qupath'), { method: 'POST', body: '{}' })
    assert.equal(missing.status, 404)
  })

  it('runs an AI export whose manifest matches the files, fetched singly and as a tar', async () => {
    const slide = await newSlide(6)
    const rect = { type: 'Feature', geometry: { type: 'Polygon', coordinates: [[[100, 100], [400, 100], [400, 300], [100, 300], [100, 100]]] }, properties: { classification: { name: 'Cell' } } }
    assert.equal((await hub.fetch(importUrl(slide, 'qupath'), { method: 'POST', body: JSON.stringify(rect) })).status, 201)
    const res = await hub.fetch(`${hub.url}/api/exports`, json({ slides: [slide], formats: ['geojson', 'coco', 'csv', 'tiles'], tiles: { size: 256, mpp: 1 } }))
    assert.equal(res.status, 202, await res.clone().text())
    const { id } = (await res.json()) as { id: string }
    let status: { status: string; manifest?: { files: { path: string; sha256: string; bytes: number }[]; annotationSetVersion: number } ; error?: unknown }
    for (let i = 0; ; i++) {
      status = (await (await hub.fetch(`${hub.url}/api/exports/${id}`)).json()) as typeof status
      if (status.status !== 'running' || i > 300) break
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.equal(status.status, 'done', JSON.stringify(status.error))
    const m = status.manifest!
    assert.ok(m.annotationSetVersion > 0)
    assert.ok(m.files.some((f) => f.path.endsWith('/masks/0000_0000.png')))
    for (const f of m.files) {
      const r = await hub.fetch(`${hub.url}/api/exports/${id}/files/${f.path}`)
      assert.equal(r.status, 200, f.path)
      const bytes = Buffer.from(await r.arrayBuffer())
      assert.equal(bytes.length, f.bytes)
      assert.equal(createHash('sha256').update(bytes).digest('hex'), f.sha256, f.path)
    }
    // Category names are the codes' English meanings in the vocabulary version the labels carry.
    const coco = (await (await hub.fetch(`${hub.url}/api/exports/${id}/files/coco.json`)).json()) as { categories: { name: string; kura_code: { code: string } }[] }
    assert.deepEqual(coco.categories.map((c) => [c.kura_code.code, c.name]), [['lymphocytes', 'Lymphocytes (lymphocytic infiltrate)']])
    assert.equal((await hub.fetch(`${hub.url}/api/exports/${id}/files/..%2Fexport.json`)).status, 404)
    const tar = Buffer.from(await (await hub.fetch(`${hub.url}/api/exports/${id}/archive`)).arrayBuffer())
    const tarPath = join(dir, 'e.tar')
    writeFileSync(tarPath, tar)
    const listed = execFileSync('tar', ['-tf', tarPath], { encoding: 'utf8' }).trim().split('\n').sort()
    assert.deepEqual(listed, [`kura-export-${id}/manifest.json`, ...m.files.map((f) => `kura-export-${id}/${f.path}`)].sort())
    const out = join(dir, 'x')
    execFileSync('mkdir', ['-p', out])
    execFileSync('tar', ['-xf', tarPath, '-C', out])
    for (const f of m.files) assert.equal(createHash('sha256').update(readFileSync(join(out, `kura-export-${id}`, f.path))).digest('hex'), f.sha256)
    assert.equal((await hub.fetch(`${hub.url}/api/exports/00000000-0000-7000-8000-000000000000`)).status, 404)
  })

  it('works from the command line: kura annotations import, export and an AI export to a tar', async () => {
    const slide = await newSlide(7)
    const sample = sampleFiles('qupath_geojson_advanced')[0]!
    const map = join(dir, 'labels.json')
    writeFileSync(map, JSON.stringify(labels))
    process.env.KURA_TOKEN = hub.adminToken
    try {
      assert.equal(await main(['annotations', 'import', sample, '--slide', slide, '--labels', map, '--url', hub.url]), 0)
      const out = join(dir, 'back.json')
      assert.equal(await main(['annotations', 'export', '--slide', slide, '--container', 'FeatureArray', '--out', out, '--url', hub.url]), 0)
      assert.deepStrictEqual(JSON.parse(readFileSync(out, 'utf8')), JSON.parse(readSample(sample)))
      const tar = join(dir, 'cli.tar')
      assert.equal(await main(['annotations', 'export', '--slides', slide, '--formats', 'coco,tiles', '--tile-size', '256', '--out', tar, '--url', hub.url]), 0)
      const listed = execFileSync('tar', ['-tf', tar], { encoding: 'utf8' })
      assert.match(listed, /manifest\.json/)
      assert.match(listed, /coco\.json/)
      // A refused import exits 1 (the hub said no), not 2 (the command line was fine).
      writeFileSync(map, JSON.stringify({ Cell: labels.Cell }))
      assert.equal(await main(['annotations', 'import', sample, '--slide', slide, '--labels', map, '--url', hub.url]), 1)
    } finally {
      delete process.env.KURA_TOKEN
    }
  })
})
