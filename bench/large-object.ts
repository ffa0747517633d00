/**
 * @module Memory while ingesting one ~2 GB multi-frame object, Kura vs Orthanc.
 *
 * Writes (once, reused) a Multi-frame Grayscale Word SC object: 512×512×16-bit native frames,
 * 1,000 of them by default (≈ 500 MB, to keep the run short; `--frames 4000` gives the issue's
 * 2 GB target: 2,097,152,000 bytes of Pixel Data, explicit VR little endian, OW with
 * a 4-byte length), streaming the frames to disk. Then for each server: start it fresh, take its
 * RSS at rest, STOW the file (streamed from disk by the client) while sampling the server's RSS
 * every 100 ms, and report the peak growth and throughput. Optionally retrieves it back
 * (WADO-RS) with the same sampling.
 *
 * Target (issue): Kura's memory stays flat (growth well under 100 MB); Orthanc holds the object
 * in memory, its peak is printed for comparison.
 *
 * `--mode tus` instead measures the gateway's upload (issue 4: a 1 GB object at ≥ 90% of a plain
 * HTTP PUT of the same bytes on loopback): in each round, the same file is PUT to a bare Node
 * server that streams it to a file on the same disk and fsyncs it once, then sent by the
 * gateway's tus client (`--chunk-mb`) to a fresh-process Kura hub, which verifies
 * per-chunk and whole SHA-256, stores and indexes it. Both in the same run, alternating, so the
 * load of a shared machine hits both; the ratio is PUT seconds / tus seconds.
 *
 * FRESH PAGES: this machine is a VM whose kernel reports freed memory to its host (free page
 * reporting, within 1–2 s of the free); the next write into such a page faults on the host. A 1 GB
 * file written into reported pages costs 3.5–4 s of system CPU, into pages freed under a second
 * ago 0.35 s (`dd … conv=fdatasync`, 2026-11-28). So whichever transfer followed a large free
 * (the previous round's hub stopping) within a second ran up to 4× faster. Each transfer now
 * starts after `--settle` idle seconds (default 3), so both write into reported pages, as any
 * long-running service writing new data here does; `--settle 0` gives the old, biased order.
 *
 *   npx tsx bench/large-object.ts --help
 */
import { closeSync, createReadStream, existsSync, mkdirSync, readFileSync, openSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import http from 'node:http'
import { TusClient } from '../packages/gateway/src/upload/tus-client.ts'
import { largeObjectHeader, largeObjectPixelBytes, uidRoot } from './lib/dicom-bytes.ts'
import { label, startServer, type Backend, type ServerKind } from './lib/servers.ts'
import { stowFileStreaming } from './lib/stow.ts'
import { backendsOf, fmt, getJson, loud, mb, nowMs, num, parseFlags, printTable, readRss, runIfMain, sampleRss, sleep, machineLine, type RssStats } from './lib/util.ts'

const USAGE = `
kura bench large-object — server memory while ingesting a ~2 GB multi-frame object

  npx tsx bench/large-object.ts [options]
  npx kura bench large-object [options]

Needs free disk: the object in /tmp plus one copy per server (about 3× its size).`

interface Row {
  server: ServerKind
  backend: Backend
  baseline?: number
  stow?: RssStats & { seconds: number; mbPerSec: number; status: number; secondsAfterUpload: number }
  retrieve?: RssStats & { seconds: number; mbPerSec: number; status: number; bytes: number }
  stored?: boolean
  note?: string
}

/** Writes the object once; returns its path and size. */
export function ensureLargeObject(o: { rows: number; cols: number; frames: number; dir?: string }): { file: string; size: number; sop: string; study: string; series: string; written: boolean; seconds: number } {
  const root = uidRoot(9)
  const tagline = `${o.rows}.${o.cols}.${o.frames}`
  const plan = {
    rows: o.rows, cols: o.cols, frames: o.frames,
    studyInstanceUid: `${root}.9.${tagline}`,
    seriesInstanceUid: `${root}.9.${tagline}.1`,
    sopInstanceUid: `${root}.9.${tagline}.1.1`,
  }
  const header = largeObjectHeader(plan)
  const size = header.length + largeObjectPixelBytes(plan)
  const file = `${o.dir ?? '/tmp'}/kura-bench-large-${o.rows}x${o.cols}x${o.frames}.dcm`
  const out = { file, size, sop: plan.sopInstanceUid, study: plan.studyInstanceUid, series: plan.seriesInstanceUid, written: false, seconds: 0 }
  if (existsSync(file) && statSync(file).size === size) return out
  const t0 = nowMs()
  const frameBytes = o.rows * o.cols * 2
  const framesPerChunk = Math.max(1, Math.floor((8 * 1024 * 1024) / frameBytes))
  const chunk = Buffer.alloc(frameBytes * framesPerChunk)
  // A smooth ramp; each frame gets its number in its first pixels so frames differ.
  for (let f = 0; f < framesPerChunk; f++) for (let i = 0; i < o.rows * o.cols; i++) chunk.writeUInt16LE((i + f * 97) & 0xfff, f * frameBytes + i * 2)
  const fd = openSync(`${file}.part`, 'w')
  try {
    writeSync(fd, header)
    for (let f = 0; f < o.frames; f += framesPerChunk) {
      const n = Math.min(framesPerChunk, o.frames - f)
      for (let k = 0; k < n; k++) chunk.writeUInt32LE(f + k, k * frameBytes)
      writeSync(fd, chunk, 0, n * frameBytes)
    }
  } finally {
    closeSync(fd)
  }
  rmSync(file, { force: true })
  renameSync(`${file}.part`, file)
  return { ...out, written: true, seconds: (nowMs() - t0) / 1000 }
}

/** Streams a WADO-RS retrieve to nowhere; returns bytes and seconds. */
function retrieve(url: string, headers: Record<string, string>): Promise<{ status: number; bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs()
    let bytes = 0
    const req = http.get(url, { headers: { ...headers, Accept: 'multipart/related; type="application/dicom"' }, agent: new http.Agent({ keepAlive: false }) }, (res) => {
      res.on('data', (c: Buffer) => { bytes += c.length })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, seconds: (nowMs() - t0) / 1000 }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(600_000, () => req.destroy(new Error('retrieve timed out')))
  })
}

export async function run(argv: string[]): Promise<void> {
  const f = await parseFlags(argv, USAGE, {
    rows: { type: 'string', default: '512', help: 'frame rows' },
    cols: { type: 'string', default: '512', help: 'frame columns' },
    frames: { type: 'string', default: '1000', help: 'frames (16-bit, 512 KB each at 512×512): 1000 ≈ 500 MB keeps the run short; 4000 ≈ 2 GB is the issue\'s target' },
    backend: { type: 'string', default: 'sqlite', help: 'sqlite | postgres | both' },
    only: { type: 'string', default: 'both', help: 'kura | orthanc | both' },
    retrieve: { type: 'boolean', default: false, help: 'also retrieve it (WADO-RS) and sample memory' },
    'max-growth-mb': { type: 'string', default: '100', help: 'Kura RSS growth above which the target is not met' },
    'keep-file': { type: 'boolean', default: true, help: 'keep the object in /tmp for the next run' },
    'orthanc-config': { type: 'string', help: 'JSON merged over the generated Orthanc configuration' },
    json: { type: 'string', help: 'also write the results as JSON to this file' },
    mode: { type: 'string', default: 'stow', help: 'stow (memory, Kura vs Orthanc) | tus (gateway tus upload vs a plain HTTP PUT)' },
    runs: { type: 'string', default: '3', help: 'tus mode: rounds (PUT then tus each)' },
    'chunk-mb': { type: 'string', default: '64', help: 'tus mode: PATCH size in MiB' },
    settle: { type: 'string', default: '3', help: 'tus mode: idle seconds before each timed transfer (see FRESH PAGES below)' },
    'cpu-prof': { type: 'string', help: 'tus mode: write V8 CPU profiles of the hub into this directory' },
  })
  if (!f) return
  if (f.mode === 'tus') return runTus(f)
  console.log(await machineLine())
  const rows = num(f.rows, 'rows'), cols = num(f.cols, 'cols'), frames = num(f.frames, 'frames')
  const maxGrowth = num(f['max-growth-mb'], 'max-growth-mb')
  const backends = backendsOf(f.backend)
  const kinds: ServerKind[] = f.only === 'both' ? ['orthanc', 'kura'] : [f.only as ServerKind]
  const orthancConfig = f['orthanc-config'] ? JSON.parse(String(f['orthanc-config'])) : undefined

  const obj = ensureLargeObject({ rows, cols, frames })
  console.log(`object: ${obj.file}, ${fmt(mb(obj.size))} MB (${frames} frames ${rows}×${cols}×16-bit), ${obj.written ? `written in ${fmt(obj.seconds)} s` : 'reused'}`)

  const results: Row[] = []
  for (const backend of backends) {
    for (const kind of kinds) {
      const row: Row = { server: kind, backend }
      results.push(row)
      const s = await startServer(kind, backend, { orthanc: { extraConfig: orthancConfig } })
      if (!s) { row.note = 'did not run'; continue }
      try {
        await sleep(1000)
        row.baseline = readRss(s.pid)
        const sampler = sampleRss(s.pid, 100)
        let lastPct = -1
        process.stdout.write(`${label(s)}: STOW ${fmt(mb(obj.size), 0)} MB, RSS at rest ${fmt(mb(row.baseline))} MB `)
        const r = await stowFileStreaming(s.dicomwebUrl, obj.file, {
          headers: s.headers,
          onProgress: (sent, total) => { const p = Math.floor((sent / total) * 10); if (p !== lastPct) { lastPct = p; process.stdout.write(` ${p * 10}%:${fmt(mb(sampler.current()), 0)}MB`) } },
        })
        const st = sampler.stop()
        row.stow = { ...st, seconds: r.seconds, mbPerSec: r.mbPerSec, status: r.status, secondsAfterUpload: r.secondsAfterUpload }
        console.log(` → status ${r.status} in ${fmt(r.seconds)} s (${fmt(r.mbPerSec)} MB/s), peak RSS ${fmt(mb(st.max))} MB (+${fmt(mb(st.max - row.baseline))} MB)`)
        if (r.outcome.failed || r.status >= 300) loud(`${label(s)}: STOW of the large object failed: ${r.outcome.httpError ?? r.body.slice(0, 300)}`)
        const q = await getJson<unknown[]>(`${s.dicomwebUrl}/instances?SOPInstanceUID=${obj.sop}`, s.headers).catch(() => ({ status: 0, json: [] as unknown[] }))
        row.stored = Array.isArray(q.json) && q.json.length === 1
        if (f.retrieve && row.stored) {
          await sleep(500)
          const base2 = readRss(s.pid)
          const sm = sampleRss(s.pid, 100)
          const rr = await retrieve(`${s.dicomwebUrl}/studies/${obj.study}/series/${obj.series}/instances/${obj.sop}`, s.headers)
          const st2 = sm.stop()
          row.retrieve = { ...st2, first: base2, status: rr.status, bytes: rr.bytes, seconds: rr.seconds, mbPerSec: mb(rr.bytes) / rr.seconds }
          console.log(`${label(s)}: WADO-RS retrieve status ${rr.status}, ${fmt(mb(rr.bytes))} MB in ${fmt(rr.seconds)} s, peak RSS ${fmt(mb(st2.max))} MB (+${fmt(mb(st2.max - base2))} MB)`)
        }
      } catch (e) {
        row.note = `failed: ${(e as Error).message}`
        loud(`${label(s)}: ${(e as Error).message}`)
      } finally {
        await s.stop()
      }
    }
  }
  if (!f['keep-file']) rmSync(obj.file, { force: true })

  const t = [['server', 'backend', 'status', 'seconds', 'MB/s', 'RSS rest MB', 'RSS peak MB', 'growth MB', 'VmHWM MB', 'stored', ...(f.retrieve ? ['retrieve MB/s', 'retrieve growth MB'] : [])]]
  for (const r of results) {
    const s = r.stow
    t.push([
      r.server === 'kura' ? 'Kura' : 'Orthanc', r.backend,
      s ? String(s.status) : (r.note ?? '—'),
      s ? fmt(s.seconds) : '—', s ? fmt(s.mbPerSec) : '—',
      r.baseline ? fmt(mb(r.baseline)) : '—', s ? fmt(mb(s.max)) : '—',
      s && r.baseline ? fmt(mb(s.max - r.baseline)) : '—', s ? fmt(mb(s.hwm)) : '—',
      r.stored === undefined ? '—' : r.stored ? 'yes' : 'NO',
      ...(f.retrieve ? [r.retrieve ? fmt(r.retrieve.mbPerSec) : '—', r.retrieve ? fmt(mb(r.retrieve.max - r.retrieve.first)) : '—'] : []),
    ])
  }
  printTable(t, `Large object ingest — ${fmt(mb(obj.size))} MB, RSS sampled every 100 ms`)
  for (const r of results) {
    if (r.server === 'kura' && r.stow && r.baseline) {
      const g = mb(r.stow.max - r.baseline)
      console.log(`  Kura (${r.backend}): RSS growth ${fmt(g)} MB (target < ${maxGrowth} MB) ${g < maxGrowth ? 'MET' : 'NOT MET'}`)
    }
  }
  if (f.json) writeFileSync(String(f.json), JSON.stringify({ object: obj, results: results.map((r) => ({ ...r, stow: r.stow && { ...r.stow, series: undefined }, retrieve: r.retrieve && { ...r.retrieve, series: undefined } })) }, null, 2))
}

/** A bare HTTP server in its own process that streams each PUT body to a file and fsyncs it once. */
const PUT_SINK = `
const http = require('node:http'), fs = require('node:fs'), path = require('node:path')
const dir = process.argv[1]
let n = 0
http.createServer((req, res) => {
  const file = path.join(dir, 'put-' + (n++))
  const out = fs.createWriteStream(file)
  req.pipe(out)
  out.on('finish', () => { const fd = fs.openSync(file, 'r+'); fs.fdatasyncSync(fd); fs.closeSync(fd); fs.rmSync(file); res.writeHead(201).end() })
}).listen(0, '127.0.0.1', function () { console.log(this.address().port) })
`

async function startPutSink(dir: string): Promise<{ url: string; pid: number; stop(): void }> {
  const child = spawn(process.execPath, ['-e', PUT_SINK, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await once(child.stdout!, 'data') as [Buffer]
  return { url: `http://127.0.0.1:${line.toString().trim()}`, pid: child.pid!, stop: () => child.kill() }
}

/** The 1-minute load average now: a shared machine's figures mean little without it. */
function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?'
}

/** CPU seconds (user + system) a process has used so far: less sensitive to a busy machine than wall time. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

/** Runs `work`, returning its result with the CPU seconds this process and `pid` spent meanwhile. */
async function withCpu<T>(pid: number, work: () => Promise<T>): Promise<{ value: T; client: number; server: number }> {
  const c0 = process.cpuUsage()
  const s0 = cpuSeconds(pid)
  const value = await work()
  const c = process.cpuUsage(c0)
  return { value, client: (c.user + c.system) / 1e6, server: cpuSeconds(pid) - s0 }
}

function putFile(url: string, file: string, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs()
    const req = http.request(url, { method: 'PUT', headers: { 'content-length': String(size) } }, (res) => {
      res.resume()
      res.on('end', () => (res.statusCode === 201 ? resolve((nowMs() - t0) / 1000) : reject(new Error(`PUT answered ${res.statusCode}`))))
    })
    req.on('error', reject)
    createReadStream(file, { highWaterMark: 1024 * 1024 }).pipe(req)
  })
}

async function runTus(f: Record<string, string | boolean>): Promise<void> {
  console.log(await machineLine())
  const rows = num(f.rows, 'rows'), cols = num(f.cols, 'cols'), frames = num(f.frames, 'frames')
  const runs = num(f.runs, 'runs'), chunkMb = num(f['chunk-mb'], 'chunk-mb'), settleMs = 1000 * num(f.settle, 'settle')
  const obj = ensureLargeObject({ rows, cols, frames })
  console.log(`object: ${obj.file}, ${fmt(mb(obj.size))} MB, ${obj.written ? `written in ${fmt(obj.seconds)} s` : 'reused'}`)
  // The gateway knows the object's SHA-256 from spooling it; so does the bench, before timing.
  const h = createHash('sha256')
  for await (const c of createReadStream(obj.file, { highWaterMark: 4 * 1024 * 1024 })) h.update(c as Buffer)
  const sha256 = h.digest('hex')
  const sinkDir = join(tmpdir(), `kura-bench-put-${process.pid}`)
  rmSync(sinkDir, { recursive: true, force: true })
  mkdirSync(sinkDir, { recursive: true })
  const sink = await startPutSink(sinkDir)
  const prof = f['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${f['cpu-prof']}`] : []
  const rowsOut: string[][] = [['round', 'PUT s', 'PUT MB/s', 'tus s', 'tus MB/s', 'tus/PUT', 'CPU s PUT client+server', 'CPU s tus client+hub', 'load', 'outcome']]
  const ratios: number[] = []
  try {
    for (let round = 1; round <= runs; round++) {
      // A fresh hub per round: every round stores the object (no `duplicate` shortcut). Started before the PUT,
      // so that both transfers begin the same way: after `--settle` seconds with nothing written or freed.
      const s = await startServer('kura', 'sqlite', { kura: { nodeArgs: prof } })
      if (!s) throw new Error('the Kura hub did not start')
      try {
        await sleep(settleMs)
        const { value: put, client: putClient, server: putServer } = await withCpu(sink.pid, () => putFile(sink.url, obj.file, obj.size))
        await sleep(settleMs)
        const c = await fetch(`${s.url}/api/collections`, { method: 'POST', headers: { ...s.headers, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) })
        if (c.status !== 201) throw new Error(`creating the collection answered ${c.status}`)
        const token = s.headers.authorization!.replace(/^Bearer /, '')
        const tus = new TusClient({ hub: s.url, token: () => token, timeoutMs: 600_000 })
        // KURA_BENCH_HUB_ATTACH, e.g. "perf record -g -o /tmp/tus-{round}.data -p {pid}": a tool attached to the
        // hub over the tus upload ({round}: the round), stopped with SIGINT when the upload is answered.
        const attach = process.env.KURA_BENCH_HUB_ATTACH?.replaceAll('{pid}', String(s.pid)).replaceAll('{round}', String(round)).split(' ').filter(Boolean)
        const tracer = attach?.length ? spawn(attach[0]!, attach.slice(1), { stdio: 'ignore' }) : null
        if (tracer) await sleep(1000)
        const t0 = nowMs()
        const { value: url, client: tusClient, server: tusHub } = await withCpu(s.pid, () => tus.upload({ file: obj.file, length: obj.size, chunkBytes: chunkMb * 1024 * 1024, metadata: { kind: 'dicom', collection: 'bench', sha256, study: obj.study, count: '1' } }))
        const secs = (nowMs() - t0) / 1000
        if (tracer) { tracer.kill('SIGINT'); await once(tracer, 'exit') }
        const r = await tus.result(url)
        const outcome = r.objects.map((o) => o.outcome).join(',') || r.state
        ratios.push(put / secs)
        rowsOut.push([String(round), fmt(put, 2), fmt(mb(obj.size) / put, 0), fmt(secs, 2), fmt(mb(obj.size) / secs, 0), fmt((100 * put) / secs, 0) + '%', `${fmt(putClient, 2)}+${fmt(putServer, 2)}`, `${fmt(tusClient, 2)}+${fmt(tusHub, 2)}`, loadAverage(), outcome])
        console.log(rowsOut.at(-1)!.join('  '))
      } finally {
        await s.stop()
      }
    }
  } finally {
    sink.stop()
    rmSync(sinkDir, { recursive: true, force: true })
    if (!f['keep-file']) rmSync(obj.file, { force: true })
  }
  printTable(rowsOut, `Gateway tus upload vs plain HTTP PUT — ${fmt(mb(obj.size))} MB, chunk ${chunkMb} MiB`)
  const sorted = [...ratios].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0
  console.log(`  median tus/PUT ${fmt(100 * median, 0)}% (target ≥ 90%) ${median >= 0.9 ? 'MET' : 'NOT MET'}`)
  if (f.json) writeFileSync(String(f.json), JSON.stringify({ object: obj, chunkMb, rows: rowsOut }, null, 2))
}

runIfMain(import.meta.url, run)
