/**
 * @module DICOM C-STORE receive: Kura's DIMSE source vs DCMTK's own storescp, same files, same run.
 *
 * Sends with DCMTK storescu (TCP_NODELAY=1) over one association: (1) N small CT instances
 * (instances/s), (2) one large multi-frame object (MB/s, and the receiver's peak RSS). Servers run
 * one after the other, rounds interleaved. Kura makes every object durable before acknowledging it;
 * storescp does not fsync (say so when reading the ratio); Orthanc's C-STORE SCP runs as shipped.
 *
 *   npx tsx bench/dimse-receive.ts --help
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { writeCorpus } from '@kura/dicom/synth'
import { Journal } from '@kura/gateway'
import { ensureLargeObject } from './large-object.ts'
import { startOrthanc } from './lib/orthanc.ts'
import { KURA_NODE_FLAGS } from './lib/kura.ts'
import { fmt, freePort, loud, machineLine, mb, median, nowMs, num, parseFlags, printTable, range, ratio, runIfMain, sampleRss, sleep } from './lib/util.ts'

const USAGE = `
kura bench dimse-receive — C-STORE receive rate: Kura's DICOM source vs DCMTK storescp

  npx tsx bench/dimse-receive.ts [options]

Needs DCMTK (apt-get install dcmtk). Disk: the corpus and large object in /tmp, plus one copy per server.`

interface Side {
  name: string
  start(dir: string): Promise<{ port: number; proc: ChildProcess }>
}

const GATEWAY = pathToFileURL(join(import.meta.dirname, '../packages/gateway/src/index.ts')).href

/** Kura's DICOM source alone (C-STORE SCP into a spool, no outbox or pipeline), as a child process. */
export function startKura(dir: string): Promise<{ port: number; proc: ChildProcess }> {
  const code = `
    import { startDimseServer } from ${JSON.stringify(GATEWAY)}
    const s = await startDimseServer({ aeTitle: 'KURA', port: 0, host: '127.0.0.1', spoolDir: ${JSON.stringify(dir)}, minFreeBytes: 0 })
    process.stdout.write('PORT ' + s.port + '\\n')`
  const proc = spawn(process.execPath, [...KURA_NODE_FLAGS, '--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], cwd: join(import.meta.dirname, '..') })
  return new Promise((resolve, reject) => {
    let out = ''
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /PORT (\d+)/.exec(out)
      if (m) resolve({ port: Number(m[1]), proc })
    })
    proc.on('exit', (c) => reject(new Error(`Kura DICOM server exited (${c}) before listening`)))
  })
}

export async function startStorescp(dir: string, extra: string[]): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort()
  const proc = spawn('storescp', [...extra, '+xa', '-od', dir, String(port)], { stdio: 'ignore', env: { ...process.env, TCP_NODELAY: '1' } })
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const r = spawn('echoscu', ['127.0.0.1', String(port)], { stdio: 'ignore' })
      r.on('close', (c) => resolve(c === 0))
    })
    if (ok) return { port, proc }
    await sleep(50)
  }
  proc.kill()
  throw new Error('storescp did not start')
}

/** Orthanc's C-STORE SCP as shipped (its SQLite index, storage area in `dir`), any called AE accepted. */
export async function startOrthancScp(dir: string): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort()
  // Orthanc's SCP is DCMTK underneath: without TCP_NODELAY in its environment, Nagle holds each response ~40 ms.
  process.env.TCP_NODELAY = '1'
  const o = await startOrthanc({ dataDir: dir, dicomweb: false, extraConfig: { DicomServerEnabled: true, DicomPort: port, DicomAet: 'KURA', DicomCheckCalledAet: false } })
  if (!o) throw new Error('Orthanc is not installed (apt-get install orthanc)')
  // The bench stops a side with SIGTERM on a process handle; give it one that stops Orthanc.
  const proc = { pid: o.pid, kill: () => { void o.stop().then(() => proc.emit('exit')); return true } } as unknown as ChildProcess & EventEmitter
  Object.setPrototypeOf(proc, EventEmitter.prototype)
  return { port, proc }
}

export function storescu(port: number, args: string[]): Promise<{ code: number | null; seconds: number; output: string }> {
  const t0 = nowMs()
  return new Promise((resolve) => {
    const p = spawn('storescu', ['-aec', 'KURA', ...args.slice(0, -1), '127.0.0.1', String(port), args.at(-1)!], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TCP_NODELAY: '1' } })
    let output = ''
    p.stdout.on('data', (d: Buffer) => { output += d.toString() })
    p.stderr.on('data', (d: Buffer) => { output += d.toString() })
    p.on('close', (code) => resolve({ code, seconds: (nowMs() - t0) / 1000, output }))
  })
}

/** False (and says so loudly, exit code 1) when DCMTK's storescu, the sender of these benchmarks, is missing. */
export function hasStorescu(): boolean {
  if (existsSync('/usr/bin/storescu')) return true
  loud('DCMTK is not installed (apt-get install dcmtk): storescu is the sender of this benchmark; nothing measured.')
  process.exitCode = 1
  return false
}

export function countFiles(dir: string): number {
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) n += e.name === 'journal' ? countJournal(join(dir, e.name)) : countFiles(join(dir, e.name))
    else n += /\.(json|part|ready)$/.test(e.name) ? 0 : 1
  }
  return n
}

/** Objects in a Kura spool's journal (small objects have no file of their own): its records, each checked whole. */
function countJournal(dir: string): number {
  const journal = Journal.open(dir)
  try {
    return journal.records().filter((m) => journal.verify(m.id)).length
  } finally {
    journal.close()
  }
}

/** Removes the files under `dir` and keeps its folders (Kura's spool folder must stay where it opened it). */
export function emptyFiles(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) emptyFiles(join(dir, e.name))
    else rmSync(join(dir, e.name), { force: true })
  }
}

/** `instances` CT files of `size`² under /tmp, made once with the project's generator and reused. */
/** `seed` other than 7 gives other UIDs (a warm-up study that is not the timed one). */
export async function smallCorpus(instances: number, size: number, seed = 7): Promise<string> {
  const corpus = `/tmp/kura-bench-corpus-dimse-ct${size}-${instances}${seed === 7 ? '' : `-seed${seed}`}`
  if (!existsSync(join(corpus, '.done'))) {
    rmSync(corpus, { recursive: true, force: true })
    const per = Math.min(instances, 500)
    await writeCorpus(corpus, { studies: Math.ceil(instances / per), seriesPerStudy: 1, instancesPerSeries: per, modality: 'CT', sizes: { CT: { rows: size, columns: size } }, seed })
    mkdirSync(join(corpus, '.done'))
  }
  return corpus
}

interface Result { name: string; instancesPerSec: number[]; largeMbPerSec: number[]; loads: number[]; peakRssMb?: number; ok: boolean; note?: string }


export async function run(argv: string[]): Promise<void> {
  const f = await parseFlags(argv, USAGE, {
    instances: { type: 'string', default: '1000', help: 'small CT instances over one association' },
    size: { type: 'string', default: '128', help: 'CT rows and columns of the small instances' },
    frames: { type: 'string', default: '1000', help: 'frames of 512×512×16-bit in the large object (1000 ≈ 500 MB)' },
    reps: { type: 'string', default: '1', help: 'repetitions of each measurement (the range is reported)' },
    only: { type: 'string', default: 'all', help: 'kura | storescp | orthanc | all' },
    root: { type: 'string', default: '/tmp', help: 'where the receivers write (/dev/shm takes the disk out of the figures)' },
  })
  if (!f) return
  const instances = num(f.instances, 'instances'), size = num(f.size, 'size'), frames = num(f.frames, 'frames'), reps = num(f.reps, 'reps')
  console.log(await machineLine())
  if (!hasStorescu()) return
  const corpus = await smallCorpus(instances, size)
  const smallCount = countFiles(corpus)
  const large = ensureLargeObject({ rows: 512, cols: 512, frames })
  console.log(`corpus: ${smallCount} CT ${size}×${size} instances in ${corpus}; large object: ${fmt(mb(large.size), 0)} MB (${large.file})`)

  const sides: Side[] = [
    { name: 'kura', start: startKura },
    { name: 'storescp', start: (d: string) => startStorescp(d, []) },
    { name: 'storescp +B', start: (d: string) => startStorescp(d, ['+B']) },
    { name: 'orthanc', start: startOrthancScp },
  ].filter((s) => f.only === 'all' || s.name.startsWith(String(f.only)))
  const results: Result[] = sides.map((s) => ({ name: s.name, instancesPerSec: [], largeMbPerSec: [], loads: [], ok: true }))
  // Repetitions interleave the receivers, so each round compares them under about the same load.
  for (let rep = 0; rep < reps; rep++) {
    for (const [i, side] of sides.entries()) {
      const r = results[i]!
      const dir = `${f.root}/kura-bench-dimse-${side.name.replace(/\W+/g, '')}`
      // Orthanc keeps its index and log beside its storage area: count and empty only the storage.
      const store = side.name === 'orthanc' ? join(dir, 'storage') : dir
      rmSync(dir, { recursive: true, force: true })
      mkdirSync(dir, { recursive: true })
      const { port, proc } = await side.start(dir)
      try {
        r.loads.push(loadavg()[0]!)
        const small = await storescu(port, ['+sd', '+r', corpus])
        const got = countFiles(store)
        if (small.code !== 0 || got !== smallCount) { r.ok = false; r.note = `small: exit ${small.code}, ${got}/${smallCount} stored ${small.output.slice(-300)}` }
        r.instancesPerSec.push(smallCount / small.seconds)
        if (side.name !== 'orthanc') emptyFiles(store)
        const rss = sampleRss(proc.pid!, 50)
        const big = await storescu(port, [large.file])
        const mem = rss.stop()
        if (big.code !== 0) { r.ok = false; r.note = `large: exit ${big.code}`; console.error(big.output.slice(-600)) }
        r.largeMbPerSec.push(mb(large.size) / big.seconds)
        r.peakRssMb = Math.max(r.peakRssMb ?? 0, mb(mem.hwm))
        console.log(`round ${rep + 1} ${side.name}: ${fmt(r.instancesPerSec.at(-1))} inst/s, ${fmt(r.largeMbPerSec.at(-1))} MB/s (load ${r.loads.at(-1)!.toFixed(2)})`)
      } finally {
        proc.kill('SIGTERM')
        await new Promise((res) => proc.once('exit', res))
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
  const kura = results.find((r) => r.name === 'kura')
  const rows = [['receiver', `${smallCount} × CT ${size}² inst/s`, `${fmt(mb(large.size), 0)} MB object MB/s`, 'peak RSS MB', 'load avg', 'ok']]
  for (const r of results) rows.push([r.name, range(r.instancesPerSec), range(r.largeMbPerSec), fmt(r.peakRssMb, 0), range(r.loads), r.ok ? 'yes' : `NO ${r.note ?? ''}`])
  printTable(rows, `DICOM C-STORE receive (storescu, TCP_NODELAY=1, one association; ${reps} round(s), min–max)`)
  for (const r of results) {
    if (r === kura || !kura) continue
    const perRound = kura.instancesPerSec.map((k, i) => k / r.instancesPerSec[i]!)
    console.log(`kura / ${r.name}: instances/s ${ratio(median(kura.instancesPerSec), median(r.instancesPerSec))} (medians; per round ${perRound.map((x) => x.toFixed(2)).join(', ')}), large-object MB/s ${ratio(median(kura.largeMbPerSec), median(r.largeMbPerSec))}`)
  }
  console.log('note: Kura makes each object durable before its C-STORE-RSP (a small one appended to the spool journal, a large one a file and a folder fsync; flushes shared by concurrent commits); storescp does not fsync; Orthanc writes through its SQLite index.')
}

runIfMain(import.meta.url, run)
