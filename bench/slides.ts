/**
 * @module Slide serving and pyramid building, Kura side by side with the anchors, same inputs, same run:
 *
 * 1. Tiles: a synthetic SVS (JPEG tiles, shared tables, as Aperio writes) stored in a real hub (`kura hub`, its
 *    own process), then random full-resolution 256² tiles fetched over HTTP by `--concurrency` clients (Deep
 *    Zoom URLs; the stored tiles pass through) vs OpenSlide (Debian python3-openslide) `read_region` of the same
 *    256² areas in one Python process, timed inside Python. Target: Kura ≥ 5× OpenSlide's tiles/s.
 *    Also zoomed-out Deep Zoom tiles (rendered: decode, resize, encode) for reference.
 * 2. Pyramid: a single-level `--pyramid-size`² tiled TIFF; Kura's derived-level builder (what the slide.pyramid
 *    job runs) vs `vips dzsave` and `vips tiffsave --tile --pyramid` of the same file. Target: ≤ 1.0× dzsave's time.
 *    Peak RSS of each is printed (Kura's through a child process).
 * 2b. DICOM WSI pyramid: a single-level `--dicom-pyramid-size`² DICOM WSI; what the slide.pyramid job runs for it
 *    (its level copied through our reader into a tiled TIFF, then the same builder) vs that builder alone on a
 *    single-level TIFF of the same size: the price of reading DICOM (libvips cannot).
 * 3. NDPI first tile: a synthetic NDPI (one JPEG per level, restart markers): open + first tile in a fresh process.
 *
 *   npx kura bench slides --help
 */
import { spawnSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { writeDicomSlide, writeNdpiSlide, writeSvsSlide, writeTiffSlide } from '@kura/wsi/synth'
import { startKura } from './lib/kura.ts'
import { fmt, httpRequest, loud, machineLine, mb, nowMs, num, parseFlags, printTable, quantile, ratio, runIfMain, sampleRss } from './lib/util.ts'

const USAGE = `
kura bench slides — tile serving vs OpenSlide, pyramid building vs vips dzsave, NDPI first tile

  npx tsx bench/slides.ts [options]
  npx kura bench slides [options]

Needs Debian's python3-openslide and libvips-tools for the anchors (missing: that side is skipped, loudly).
Inputs are synthetic and cached under /tmp/kura-bench-slides/.`

const PY = '/usr/bin/python3'
const CACHE = path.join(os.tmpdir(), 'kura-bench-slides')

async function cached(file: string, make: (p: string) => Promise<unknown>): Promise<{ path: string; seconds: number; reused: boolean }> {
  mkdirSync(CACHE, { recursive: true })
  const p = path.join(CACHE, file)
  if (existsSync(p)) return { path: p, seconds: 0, reused: true }
  const t0 = nowMs()
  await make(`${p}.part`)
  spawnSync('mv', [`${p}.part`, p])
  return { path: p, seconds: (nowMs() - t0) / 1000, reused: false }
}

function has(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return !r.error && r.status === 0
}

/** Deterministic pseudo-random tile positions (the same for both sides). */
function tilePositions(n: number, across: number, down: number, seed = 7): Array<[number, number]> {
  let s = seed
  const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
  return Array.from({ length: n }, () => [Math.floor(rnd() * across), Math.floor(rnd() * down)] as [number, number])
}

/** OpenSlide read_region of each 256² tile area, timed inside Python (no process start in the figure). */
function openslideTiles(file: string, tiles: Array<[number, number]>, size: number): { seconds: number; perTileMs: number[] } | null {
  const code = `
import openslide, sys, json, time
s = openslide.OpenSlide(sys.argv[1]); size = int(sys.argv[2]); tiles = json.loads(sys.stdin.read())
s.read_region((0, 0), 0, (size, size))
per = []; t0 = time.perf_counter()
for c, r in tiles:
    t = time.perf_counter(); s.read_region((c * size, r * size), 0, (size, size)); per.append((time.perf_counter() - t) * 1000)
print(json.dumps({'seconds': time.perf_counter() - t0, 'per': per}))`
  const r = spawnSync(PY, ['-c', code, file, String(size)], { input: JSON.stringify(tiles), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  if (r.status !== 0) {
    loud(`OpenSlide (python3-openslide) failed or is missing: the OpenSlide side is SKIPPED.\n${(r.stderr || r.error?.message || '').slice(0, 400)}`)
    return null
  }
  const j = JSON.parse(r.stdout) as { seconds: number; per: number[] }
  return { seconds: j.seconds, perTileMs: j.per }
}

/** GETs every URL with `concurrency` requests in flight; tiles/s and latency quantiles. */
async function httpLoad(urls: string[], headers: Record<string, string>, concurrency: number): Promise<{ seconds: number; ms: number[]; bytes: number; bad: number }> {
  let next = 0, bytes = 0, bad = 0
  const ms: number[] = []
  const t0 = nowMs()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < urls.length) {
      const r = await httpRequest(urls[next++]!, { headers })
      if (r.status !== 200) bad++
      bytes += r.body.length
      ms.push(r.ms)
    }
  }))
  return { seconds: (nowMs() - t0) / 1000, ms: ms.sort((a, b) => a - b), bytes, bad }
}

/** Runs a command, sampling its peak RSS; seconds and peak MB. */
async function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ seconds: number; peakMb: number; ok: boolean; err: string }> {
  const t0 = nowMs()
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000) })
  const rss = sampleRss(child.pid!, 50)
  const code = await new Promise<number | null>((res) => child.on('exit', res))
  const stats = rss.stop()
  return { seconds: (nowMs() - t0) / 1000, peakMb: mb(Math.max(stats.max, stats.hwm ?? 0)), ok: code === 0, err }
}

export async function run(argv: string[]): Promise<void> {
  const f = await parseFlags(argv, USAGE, {
    'slide-size': { type: 'string', default: '20000', help: 'tile test: synthetic SVS width and height' },
    tiles: { type: 'string', default: '4000', help: 'tile test: random 256² tiles read by each side' },
    concurrency: { type: 'string', default: '8', help: 'tile test: HTTP requests in flight' },
    'pyramid-size': { type: 'string', default: '40000', help: 'pyramid test: single-level TIFF width and height (0 skips)' },
    'ndpi-size': { type: 'string', default: '40000', help: 'NDPI test: synthetic NDPI width and height (0 skips)' },
    'dicom-pyramid-size': { type: 'string', default: '16384', help: 'DICOM WSI pyramid test: single-level DICOM WSI width and height (0 skips)' },
  })
  if (!f) return
  console.log(await machineLine())
  const size = num(f['slide-size'], 'slide-size'), n = num(f.tiles, 'tiles'), conc = num(f.concurrency, 'concurrency')
  const rows: string[][] = [['test', 'tool', 'result', 'p50 ms', 'p99 ms', 'Kura vs anchor', 'target']]

  // 1. Tiles.
  const svs = await cached(`svs-${size}.svs`, (p) => writeSvsSlide(p, { width: size, height: size, seed: 11 }))
  console.log(`slide: ${svs.path}, ${fmt(mb(statSync(svs.path).size))} MB${svs.reused ? ' (reused)' : `, written in ${fmt(svs.seconds)} s`}`)
  const across = Math.floor(size / 256), down = Math.floor(size / 256)
  const positions = tilePositions(n, across, down)
  const os_ = openslideTiles(svs.path, positions, 256)
  const hub = await startKura()
  try {
    await httpRequest(`${hub.url}/api/collections`, { method: 'POST', headers: { ...hub.headers, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) })
    const t0 = nowMs()
    const up = spawnSync('curl', ['-s', '-X', 'POST', '-H', `authorization: ${hub.headers.authorization}`, '-H', 'content-type: application/octet-stream', '--data-binary', `@${svs.path}`, `${hub.url}/slides?collection=bench`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    const slide = JSON.parse(up.stdout) as { id: string; levels: unknown[] }
    const storeS = (nowMs() - t0) / 1000
    const first = await httpRequest(`${hub.url}/slides/${slide.id}_files/${Math.ceil(Math.log2(size))}/0_0.jpeg`, { headers: hub.headers })
    console.log(`Kura: stored in ${fmt(storeS, 2)} s (POST /slides, ${slide.levels.length} levels); first tile ${first.status} in ${fmt(first.ms, 1)} ms`)
    const maxLevel = Math.ceil(Math.log2(size))
    const urls = positions.map(([c, r]) => `${hub.url}/slides/${slide.id}_files/${maxLevel}/${c}_${r}.jpeg`)
    await httpLoad(urls.slice(0, 200), hub.headers, conc) // warm-up: readers open, JIT
    const k = await httpLoad(urls, hub.headers, conc)
    if (k.bad) loud(`Kura: ${k.bad} of ${urls.length} tile requests did not answer 200`)
    const kTps = urls.length / k.seconds
    const oTps = os_ ? n / os_.seconds : undefined
    const oSorted = os_ ? [...os_.perTileMs].sort((a, b) => a - b) : []
    rows.push(['256² tiles, level 0', `Kura HTTP (c=${conc})`, `${fmt(kTps, 0)} tiles/s`, fmt(quantile(k.ms, 0.5), 2), fmt(quantile(k.ms, 0.99), 2), ratio(kTps, oTps), '≥ 5×'])
    if (os_) rows.push(['256² tiles, level 0', 'OpenSlide read_region', `${fmt(oTps, 0)} tiles/s`, fmt(quantile(oSorted, 0.5), 2), fmt(quantile(oSorted, 0.99), 2), '', ''])
    // Zoomed out: rendered from the stored levels (decode, resize, encode), for reference.
    const low = maxLevel - 3
    const lowAcross = Math.ceil(size / 8 / 256)
    const lowUrls = tilePositions(Math.min(n, 1000), lowAcross, lowAcross, 3).map(([c, r]) => `${hub.url}/slides/${slide.id}_files/${low}/${c}_${r}.jpeg`)
    const kl = await httpLoad(lowUrls, hub.headers, conc)
    rows.push([`Deep Zoom level ${low} (1/8)`, `Kura HTTP (c=${conc})`, `${fmt(lowUrls.length / kl.seconds, 0)} tiles/s`, fmt(quantile(kl.ms, 0.5), 2), fmt(quantile(kl.ms, 0.99), 2), '', ''])
  } finally {
    await hub.stop()
  }

  // 2. Pyramid building.
  const psize = num(f['pyramid-size'], 'pyramid-size')
  if (psize > 0) {
    const single = await cached(`single-${psize}.tiff`, (p) => writeTiffSlide(p, { width: psize, height: psize, maxLevels: 1, seed: 13 }))
    console.log(`pyramid input: ${single.path}, ${psize}×${psize}, one level, ${fmt(mb(statSync(single.path).size))} MB${single.reused ? ' (reused)' : `, written in ${fmt(single.seconds)} s`}`)
    const out = path.join(CACHE, 'out')
    rmSync(out, { recursive: true, force: true })
    mkdirSync(out, { recursive: true })
    const script = `import { buildPyramidTiff } from '@kura/wsi'; await buildPyramidTiff(process.env.IN, process.env.OUT, 'generic-tiff', ${psize}, ${psize})`
    const kura = await timed(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { ...process.env, IN: single.path, OUT: path.join(out, 'kura.tiff') })
    if (kura.ok && !existsSync(path.join(out, 'kura.tiff'))) loud('Kura pyramid build wrote nothing')
    if (!kura.ok) loud(`Kura pyramid build failed: ${kura.err}`)
    const haveVips = has('vips', ['--version'])
    if (!haveVips) loud('vips not found (apt-get install libvips-tools): the vips side is SKIPPED.')
    const dz = haveVips ? await timed('vips', ['dzsave', single.path, path.join(out, 'dz')]) : null
    const ts = haveVips ? await timed('vips', ['tiffsave', single.path, path.join(out, 'vips.tiff'), '--tile', '--pyramid', '--compression', 'jpeg', '-Q', '90', '--bigtiff']) : null
    rows.push([`pyramid ${psize}²`, 'Kura (levels from 1/2, one TIFF)', `${fmt(kura.seconds, 1)} s, ${fmt(kura.peakMb, 0)} MB peak`, '', '', dz ? `${(kura.seconds / dz.seconds).toFixed(2)}× dzsave's time` : '—', '≤ 1.0×'])
    if (dz) rows.push([`pyramid ${psize}²`, 'vips dzsave', `${fmt(dz.seconds, 1)} s, ${fmt(dz.peakMb, 0)} MB peak`, '', '', '', ''])
    if (ts) rows.push([`pyramid ${psize}²`, 'vips tiffsave --pyramid', `${fmt(ts.seconds, 1)} s, ${fmt(ts.peakMb, 0)} MB peak`, '', '', '', ''])
    rmSync(out, { recursive: true, force: true })
  }

  // 2b. Pyramid building for a DICOM WSI: level copy to TIFF + the same builder, vs the builder on a TIFF.
  const dsize = num(f['dicom-pyramid-size'], 'dicom-pyramid-size')
  if (dsize > 0) {
    const dcm = await cached(`dicom-single-${dsize}`, (p) => writeDicomSlide({ width: dsize, height: dsize, maxLevels: 1, seed: 19, out: p, quality: 90 }))
    const tif = await cached(`single-${dsize}.tiff`, (p) => writeTiffSlide(p, { width: dsize, height: dsize, maxLevels: 1, seed: 19 }))
    const out = path.join(CACHE, 'out-dicom')
    rmSync(out, { recursive: true, force: true })
    mkdirSync(out, { recursive: true })
    const dscript = `import { readdirSync } from 'node:fs'; import { FileSource } from '@kura/core'; import { buildPyramidTiff, openDicomSlide, writeLevelTiff } from '@kura/wsi'
const files = readdirSync(process.env.IN).filter((f) => f.startsWith('level-')).map((f) => process.env.IN + '/' + f)
const s = await openDicomSlide(await Promise.all(files.map((f) => FileSource.open(f))))
const l = await writeLevelTiff(s, s.levels.length - 1, process.env.OUT + '.level.tiff'); await s.close()
await buildPyramidTiff(process.env.OUT + '.level.tiff', process.env.OUT, 'generic-tiff', l.width, l.height)`
    const k = await timed(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', dscript], { ...process.env, IN: dcm.path, OUT: path.join(out, 'dicom.tiff') })
    if (!k.ok) loud(`Kura DICOM WSI pyramid build failed: ${k.err}`)
    const tscript = `import { buildPyramidTiff } from '@kura/wsi'; await buildPyramidTiff(process.env.IN, process.env.OUT, 'generic-tiff', ${dsize}, ${dsize})`
    const t = await timed(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', tscript], { ...process.env, IN: tif.path, OUT: path.join(out, 'tiff.tiff') })
    rows.push([`pyramid ${dsize}² DICOM WSI`, 'Kura (level → TIFF, then levels)', `${fmt(k.seconds, 1)} s, ${fmt(k.peakMb, 0)} MB peak`, '', '', t.ok ? `${(k.seconds / t.seconds).toFixed(2)}× the TIFF build` : '—', ''])
    rows.push([`pyramid ${dsize}² TIFF`, 'Kura (levels from 1/2)', `${fmt(t.seconds, 1)} s, ${fmt(t.peakMb, 0)} MB peak`, '', '', '', ''])
    rmSync(out, { recursive: true, force: true })
  }

  // 3. NDPI first tile, in a fresh process (open, parse, first tile by restart-marker ranges).
  const nsize = num(f['ndpi-size'], 'ndpi-size')
  if (nsize > 0) {
    const ndpi = await cached(`ndpi-${nsize}.ndpi`, (p) => writeNdpiSlide(p, { width: nsize, height: nsize, seed: 17 }))
    const script = `import { FileSource } from '@kura/core'; import { openSlide } from '@kura/wsi'
const t0 = performance.now(); const s = await openSlide(await FileSource.open(process.env.IN)); const t1 = performance.now()
await s.tile(0, 0, 0); const t2 = performance.now(); console.log(JSON.stringify({ open: t1 - t0, tile: t2 - t1 }))`
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, IN: ndpi.path } })
    if (r.status === 0) {
      const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { open: number; tile: number }
      rows.push([`NDPI ${nsize}², ${fmt(mb(statSync(ndpi.path).size), 0)} MB`, 'Kura open + first tile', `${fmt(j.open + j.tile, 1)} ms (open ${fmt(j.open, 1)})`, '', '', '', '≤ 100 ms'])
    } else loud(`NDPI first tile failed: ${r.stderr.slice(0, 400)}`)
  }
  printTable(rows, 'Slides — Kura vs OpenSlide / vips, same inputs, same run')
}

runIfMain(import.meta.url, run)
