/**
 * `kura import` of slides, run as the real command: the real CMU SVS, synthetic NDPI, BigTIFF and DICOM WSI
 * (with an ordinary DICOM study in the same folder), and an OrthancWSIDicomizer folder (Debian orthanc-wsi) made
 * from a `vips tiffsave --tile --pyramid` TIFF. Straight into the archive (--data) and over HTTP (--url): the ids
 * printed last open through GET /slides/{id} and Deep Zoom, a second import prints the same ids, a
 * de-identified collection refuses a DICOM WSI with a label, and a broken slide fails with its path.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadHubConfig } from '@kura/core'
import { startHub, type RunningHub } from '@kura/hub'
import { writeDicomSlide, writeNdpiSlide, writeTiffSlide } from '@kura/wsi/synth'
import { CMU_SMALL, vips } from '../../../wsi/src/testkit.ts'

const BIN = fileURLToPath(new URL('../../bin/kura.js', import.meta.url))
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function kura(args: string[], env: Record<string, string | undefined> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, KURA_DATABASE_URL: undefined, KURA_S3_BUCKET: undefined, KURA_S3_ENDPOINT: undefined, KURA_TOKEN: undefined, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

/** The last `n` lines of stdout, which must be slide ids. */
function lastIds(stdout: string, n: number): string[] {
  const lines = stdout.trimEnd().split('\n')
  const ids = lines.slice(-n)
  for (const id of ids) assert.match(id, UUID, `expected ${n} ids as the last lines of:\n${stdout}`)
  assert.doesNotMatch(lines.at(-n - 1) ?? '', UUID, `more than ${n} ids printed:\n${stdout}`)
  return ids
}

const root = mkdtempSync(join(tmpdir(), 'kura-cli-slides-'))
const input = join(root, 'in')
const wsiFolder = join(input, 'dicom-wsi')
const orthanc = join(input, 'orthanc')

async function tokenFor(data: string): Promise<string> {
  const made = await kura(['token', 'create', '--admin', '--data', data])
  assert.equal(made.status, 0, made.stderr)
  return made.stdout.trim().split('\n').at(-1)!
}

/** Each id opens as a slide with a Deep Zoom descriptor and a first tile; returns the formats. */
async function openEach(url: string, token: string, ids: string[]): Promise<string[]> {
  const h = { authorization: `Bearer ${token}` }
  const formats: string[] = []
  for (const id of ids) {
    const res = await fetch(`${url}/slides/${id}`, { headers: h })
    assert.equal(res.status, 200, `GET /slides/${id}`)
    formats.push(((await res.json()) as { format: string }).format)
    const dzi = await fetch(`${url}/slides/${id}.dzi`, { headers: h })
    assert.equal(dzi.status, 200)
    const m = /Width="(\d+)" Height="(\d+)"/.exec(await dzi.text())!
    const top = Math.ceil(Math.log2(Math.max(Number(m[1]), Number(m[2]))))
    const tile = await fetch(`${url}/slides/${id}_files/${top}/0_0.jpeg`, { headers: h })
    assert.equal(tile.status, 200)
    assert.equal(tile.headers.get('content-type'), 'image/jpeg')
  }
  return formats.sort()
}

const FORMATS = ['aperio-svs', 'dicom-wsi', 'dicom-wsi', 'generic-tiff', 'hamamatsu-ndpi']

before(async () => {
  mkdirSync(input, { recursive: true })
  copyFileSync(CMU_SMALL, join(input, 'cmu.svs'))
  await writeNdpiSlide(join(input, 'synth.ndpi'), { width: 1024, height: 768, seed: 4 })
  await writeTiffSlide(join(input, 'synth.tif'), { width: 1024, height: 768, seed: 5 })
  await writeDicomSlide({ width: 1200, height: 900, out: wsiFolder, seed: 6 })
  // An ordinary DICOM study beside the slide's instances: imported as DICOM, as before.
  const s = await kura(['synth', 'dicom', '--out', join(wsiFolder, 'study'), '--studies', '1', '--series', '1', '--instances', '2', '--rows', '32', '--cols', '32'])
  assert.equal(s.status, 0, s.stderr)
  const tif = join(root, 'cmu-pyramid.tif')
  vips(['tiffsave', CMU_SMALL, tif, '--tile', '--pyramid', '--compression', 'jpeg', '--tile-width', '256', '--tile-height', '256'])
  mkdirSync(orthanc)
  const r = spawnSync('/usr/bin/OrthancWSIDicomizer', [`--folder=${orthanc}`, '--compression=jpeg', tif], { encoding: 'utf8' })
  assert.equal(r.status, 0, `OrthancWSIDicomizer failed (apt-get install -y orthanc-wsi): ${r.error?.message ?? r.stderr}`)
})
after(() => rmSync(root, { recursive: true, force: true }))

describe('kura import of slides', () => {
  it('--data: five slides (SVS, NDPI, TIFF, two DICOM WSI) and the DICOM study; ids last; the same ids again', async () => {
    const data = join(root, 'data')
    const a = await kura(['import', input, '--collection', 'slides', '--data', data])
    assert.equal(a.status, 0, a.stdout + a.stderr)
    assert.match(a.stdout, /stored +2\n/, 'the two ordinary DICOM instances')
    assert.match(a.stdout, /Slides into "slides": 5 slides\n +stored +5\n +duplicates +0\n +failed +0\n/)
    const ids = lastIds(a.stdout, 5)

    const again = await kura(['import', input, '--collection', 'slides', '--data', data])
    assert.equal(again.status, 0, again.stdout + again.stderr)
    assert.match(again.stdout, /duplicates +5\n/)
    assert.deepEqual(lastIds(again.stdout, 5), ids)

    const token = await tokenFor(data)
    const hub = await startHub(loadHubConfig({ data, port: 0 }, {}))
    try {
      assert.deepEqual(await openEach(hub.url, token, ids), FORMATS)
    } finally {
      await hub.close()
    }
  })

  describe('--url', () => {
    let hub: RunningHub
    let token: string
    const data = join(root, 'hub-data')
    before(async () => {
      hub = await startHub(loadHubConfig({ data, port: 0 }, {}))
      token = await tokenFor(data)
      for (const body of [{ name: 'remote' }, { name: 'remote-clean', deidentified: true }]) {
        const r = await fetch(`${hub.url}/api/collections`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
        assert.equal(r.status, 201)
      }
    })
    after(async () => {
      await hub?.close()
    })

    it('stores over HTTP; ids last, open through the API; a second import prints the same ids', async () => {
      const refused = await kura(['import', join(input, 'cmu.svs'), '--collection', 'remote', '--url', hub.url])
      assert.equal(refused.status, 1)
      assert.match(refused.stdout, /KURA_TOKEN/)
      const a = await kura(['import', input, '--collection', 'remote', '--url', hub.url], { KURA_TOKEN: token })
      assert.equal(a.status, 0, a.stdout + a.stderr)
      assert.match(a.stdout, /stored or already there +2\n/)
      const ids = lastIds(a.stdout, 5)
      assert.deepEqual(await openEach(hub.url, token, ids), FORMATS)
      const again = await kura(['import', input, '--collection', 'remote', '--url', hub.url], { KURA_TOKEN: token })
      assert.equal(again.status, 0, again.stdout + again.stderr)
      assert.match(again.stdout, /duplicates +5\n/)
      assert.deepEqual(lastIds(again.stdout, 5), ids)
    })

    it('a de-identified collection refuses slides with labels and identifying DICOM headers; a broken slide fails with its path; exit 1, no ids', async () => {
      const bad = join(root, 'broken.svs')
      writeFileSync(bad, Buffer.concat([Buffer.from([0x49, 0x49, 42, 0, 0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(64)]))
      const r = await kura(['import', wsiFolder, orthanc, bad, join(input, 'cmu.svs'), '--collection', 'remote-clean', '--url', hub.url], { KURA_TOKEN: token })
      assert.equal(r.status, 1, r.stdout + r.stderr)
      assert.match(r.stdout, /stored +0\n +duplicates +0\n +failed +4\n/)
      const esc = (s: string) => s.replace(/[/.()]/g, '\\$&')
      assert.match(r.stdout, new RegExp(`${esc(wsiFolder)} \\(DICOM WSI, 5 instances\\)\n +failed: .*LABEL instances.*\\[SLIDE_IDENTIFYING_IMAGES\\]`))
      // Orthanc's output has no label, but its header does not say it was de-identified.
      assert.match(r.stdout, new RegExp(`${esc(orthanc)} \\(DICOM WSI, \\d+ instances\\)\n +failed: .*receipt check.*\\[SLIDE_NOT_DEIDENTIFIED\\]`))
      assert.match(r.stdout, /cmu\.svs\n +failed: .*label and a macro image.*\[SLIDE_IDENTIFYING_IMAGES\]/)
      assert.match(r.stdout, /broken\.svs\n +failed: .*\[WSI_MALFORMED\]/)
      assert.doesNotMatch(r.stdout.trimEnd().split('\n').at(-1)!, UUID, 'nothing stored, no id printed')
      const list = await fetch(`${hub.url}/slides?collection=remote-clean`, { headers: { authorization: `Bearer ${token}` } })
      assert.deepEqual(await list.json(), [])
    })
  })
})
