/**
 * A de-identified collection and a kept macro: the hub accepts a slide whose macro the gateway kept with the label
 * area blacked out (the description names the area, and the pixels there are black), and still refuses a slide
 * whose marker claims an area that is not black, and one that still has its label.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { FileSource } from '@kura/core'
import { deidentifySlide } from '@kura/deid'
import { writeSvsSlide } from '@kura/wsi/synth'
import { startTestHub, type TestHub } from './support/hub.ts'

const dir = mkdtempSync(join(tmpdir(), 'kura-kept-macro-hub-'))
let hub: TestHub
const upload = (path: string) =>
  hub.fetch(`${hub.url}/slides?collection=clean-path`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Readable.toWeb(createReadStream(path)) as ReadableStream, duplex: 'half' } as RequestInit)

before(async () => {
  hub = await startTestHub()
  const res = await hub.fetch(`${hub.url}/api/collections`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'clean-path', deidentified: true }) })
  assert.equal(res.status, 201)
})
after(async () => {
  await hub.close()
  rmSync(dir, { recursive: true, force: true })
})

test('kept macro with a black label area: stored; a false claim or a label: refused', async () => {
  const svs = join(dir, 'in.svs')
  await writeSvsSlide(svs, { width: 800, height: 600, seed: 6 })
  const kept = join(dir, 'kept.svs')
  const src = await FileSource.open(svs)
  await deidentifySlide(src, kept, { keepMacro: { labelArea: { aperio: [0, 0, 0.4, 1] }, method: 'KURA site-slides 2' } }).finally(() => src.close())

  // The same claim widened to 900 px (same length, so the file stays valid): tissue lies there, so not black.
  const bytes = readFileSync(kept)
  const at = bytes.indexOf('label area 0,0,600,500 blacked out')
  assert.ok(at > 0)
  const forged = Buffer.from(bytes)
  forged.write('label area 0,0,900,500 blacked out', at, 'latin1')
  writeFileSync(join(dir, 'forged.svs'), forged)
  const f = await upload(join(dir, 'forged.svs'))
  const fb = (await f.json()) as { code?: string; message?: string }
  assert.equal(f.status, 422, JSON.stringify(fb))
  assert.equal(fb.code, 'SLIDE_IDENTIFYING_IMAGES')

  // The input itself: label and macro, no marker.
  const raw = await upload(svs)
  assert.equal(raw.status, 422)
  assert.equal(((await raw.json()) as { code: string }).code, 'SLIDE_IDENTIFYING_IMAGES')

  const ok = await upload(kept)
  const ob = await ok.json()
  assert.equal(ok.status, 201, JSON.stringify(ob))
})
