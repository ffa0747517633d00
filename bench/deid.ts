/**
 * @module De-identification throughput, Kura's engine (@kura/deid, in-process) vs gdcmanon (GDCM), same files, same run.
 *
 * Two corpora:
 * - A: many small CT files (the synthetic corpus of ./lib/corpus.ts, `@kura/dicom/synth`).
 * - B: a few large multi-frame objects (512×512×16-bit native frames, written once: writer header, then the
 *   Pixel Data element header and the frames streamed to disk, as test/large-object.test.ts builds its body).
 *
 * Kura: each file is opened (FileSource), parsed (readDicom), run through deidentify() with BASIC_POLICY (the whole
 * PS3.15 Table E.1-1, every row applied to every element, UIDs remapped, pseudonyms, method sequences inserted) and
 * its output written to a temp dir under the same relative path as its input (gdcmanon --recursive and `kura deid`
 * mirror the input tree too): small files with synchronous file calls, large ones streamed; one worker thread
 * per core (bench/lib/deid-worker.ts; `--threads`), each taking the next file from a shared counter.
 * Before each timed side the disk is settled (`sync`), and small outputs are deleted only at the end, so neither side
 * pays for the other's writeback. `--rounds` (5) timed rounds per corpus, the sides alternating which goes first;
 * the median round of each side is reported, with every round's seconds, ratio and CPU ms per file.
 * gdcmanon: ONE process over the whole input folder, `--dumb` mode, a fixed list of tags (GDCM_TAGS below,
 * 48 tags, `--empty` for type 2 attributes, `--remove` for the rest); UIDs are not remapped, nothing is inserted.
 * The two do not do the same amount of work: the comparison is "what each tool does to make the file shareable".
 *
 *   npx tsx bench/deid.ts --help
 */
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, readFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { largeObjectHeader } from './lib/dicom-bytes.ts'
import { generateSecret } from '@kura/deid'
import { runJob, type DeidJob, type DeidJobResult } from './lib/deid-worker.ts'
import { ensureCorpus } from './lib/corpus.ts'
import { fmt, loud, machineLine, mb, nowMs, num, parseFlags, printTable, ratio, runIfMain } from './lib/util.ts'

const USAGE = `
kura bench deid — de-identification files/s and MB/s, Kura (@kura/deid, BASIC_POLICY) vs gdcmanon --dumb

  npx tsx bench/deid.ts [options]
  npx kura bench deid [options]

Corpus A: small CT files; corpus B: large multi-frame objects. gdcmanon comes from
"apt-get install libgdcm-tools" (KURA_BENCH_GDCMANON points elsewhere); missing, its side is skipped.
Targets (issue): Kura ≥ 1.0× gdcmanon's files/s on small CT; ≥ 1 GB/s on large multi-frame objects.`

/**
 * gdcmanon --dumb: the identifying attributes of PS3.15 Table E.1-1 that a CT from a scanner commonly carries.
 * Type 2 attributes of the CT IOD are emptied, the rest removed. 48 tags.
 */
const GDCM_EMPTY = ['0008,0020', '0008,0030', '0008,0050', '0008,0090', '0010,0010', '0010,0020', '0010,0030', '0010,0040', '0020,0010']
const GDCM_REMOVE = [
  '0008,0012', '0008,0013', '0008,0021', '0008,0022', '0008,0023', '0008,0031', '0008,0032', '0008,0033', '0008,0080',
  '0008,0081', '0008,0092', '0008,0094', '0008,1010', '0008,1030', '0008,103e', '0008,1040', '0008,1048', '0008,1050',
  '0008,1060', '0008,1070', '0008,1080', '0010,0032', '0010,1000', '0010,1001', '0010,1010', '0010,1020', '0010,1030',
  '0010,1040', '0010,2154', '0010,2160', '0010,21b0', '0010,4000', '0018,1000', '0018,1030', '0020,4000', '0032,1032',
  '0032,1060', '0040,0244', '0040,0253',
]
const GDCM_TAG_COUNT = GDCM_EMPTY.length + GDCM_REMOVE.length

/** Workers run TypeScript through tsx, as the rest of Kura does (no build step): register it, then load the worker. */
const WORKER_BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(new URL('./lib/deid-worker.ts', import.meta.url).href)}) })`

interface Side {
  tool: 'Kura' | 'gdcmanon'
  files?: number
  bytes?: number
  seconds?: number
  failed?: number
  /** CPU seconds (user + system) the side used while timed: steadier than wall-clock on a busy machine. */
  cpu?: number
  /** Of cpu, the kernel's share (file creation, reads, writes). */
  sys?: number
  note?: string
}

/** CPU seconds (user, system) of this process, every thread (getrusage: microseconds, not /proc's 10 ms ticks). */
function selfCpu(): { user: number; sys: number } {
  const u = process.cpuUsage()
  return { user: u.user / 1e6, sys: u.system / 1e6 }
}

/** CPU seconds (user, system) of this process's waited-for children, from /proc (clock ticks of 1/100 s). */
function childrenCpu(): { user: number; sys: number } {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields 16-17 of proc(5) (cutime cstime), counted here from field 3.
  const tick = (k: number) => Number(f[k - 3]) / 100
  return { user: tick(16), sys: tick(17) }
}

const ROWS = 512
const COLS = 512
const FRAME_BYTES = ROWS * COLS * 2

/** Writes (once, reused) `count` multi-frame objects of `frames` frames each; returns their paths and total size. */
function ensureLargeObjects(count: number, frames: number): { dir: string; files: string[]; totalBytes: number; seconds: number } {
  const dir = path.join(os.tmpdir(), `kura-bench-deid-large-${count}x${frames}`)
  mkdirSync(dir, { recursive: true })
  const t0 = nowMs()
  const files: string[] = []
  for (let n = 0; n < count; n++) {
    const uid = (k: number) => `2.25.9000000000000000000${n}${k}`
    // The same object the large-object benchmark streams (one writer for both benches).
    const header = largeObjectHeader({ rows: ROWS, cols: COLS, frames, sopInstanceUid: uid(1), studyInstanceUid: uid(2), seriesInstanceUid: uid(3) })
    const file = path.join(dir, `large-${n}.dcm`)
    files.push(file)
    const size = header.length + frames * FRAME_BYTES
    if (existsSync(file) && statSync(file).size === size) continue
    const framesPerChunk = 16
    const chunk = Buffer.alloc(FRAME_BYTES * framesPerChunk)
    for (let i = 0; i < chunk.length / 2; i++) chunk.writeUInt16LE(i & 0xfff, i * 2)
    const fd = openSync(`${file}.part`, 'w')
    try {
      writeSync(fd, header)
      for (let f = 0; f < frames; f += framesPerChunk) {
        const k = Math.min(framesPerChunk, frames - f)
        for (let j = 0; j < k; j++) chunk.writeUInt16LE((f + j) & 0xffff, j * FRAME_BYTES)
        writeSync(fd, chunk, 0, k * FRAME_BYTES)
      }
    } finally {
      closeSync(fd)
    }
    renameSync(`${file}.part`, file)
  }
  const totalBytes = files.reduce((s, f) => s + statSync(f).size, 0)
  return { dir, files, totalBytes, seconds: (nowMs() - t0) / 1000 }
}

/** Kura's side: `threads` worker threads (bench/lib/deid-worker.ts), or this thread when 0, sharing one file counter. */
class KuraRunner {
  private readonly workers: Worker[] = []
  private constructor(private readonly concurrency: number) {}

  static async start(threads: number, concurrency: number): Promise<KuraRunner> {
    const r = new KuraRunner(concurrency)
    await Promise.all(Array.from({ length: threads }, () => new Promise<void>((resolve, reject) => {
      const w = new Worker(WORKER_BOOT, { eval: true })
      w.once('message', () => resolve())
      w.once('error', reject)
      r.workers.push(w)
    })))
    return r
  }

  get threads(): number {
    return this.workers.length
  }

  /** De-identifies every file into outDir; returns files done and failures. */
  async run(files: string[], outs: string[], outDir: string, secret: Uint8Array, verify = false): Promise<DeidJobResult> {
    const next = new Int32Array(new SharedArrayBuffer(4))
    const job: DeidJob = { files, outs, outDir, secret, next, verify }
    const parts = this.workers.length > 0
      ? await Promise.all(this.workers.map((w) => new Promise<DeidJobResult>((resolve, reject) => {
        w.once('message', resolve)
        w.once('error', reject)
        w.postMessage(job)
      })))
      : await Promise.all(Array.from({ length: Math.max(1, this.concurrency) }, () => runJob(job)))
    return { ok: parts.reduce((n, p) => n + p.ok, 0), failed: parts.reduce((n, p) => n + p.failed, 0), errors: parts.flatMap((p) => p.errors).slice(0, 5) }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}

/**
 * Writes out what the previous side left dirty in the page cache, so its writeback and journal commits are not
 * charged to the next side (the order of the sides would otherwise decide the ratio on a shared disk).
 */
function settleDisk(): void {
  spawnSync('sync')
}

/** "0.123 ms/file (sys 0.045)": CPU per file and the kernel's part of it. */
function cpuPerFile(cpu: number, sys: number, files: number): string {
  return files ? `${fmt((cpu * 1000) / files, 3)} ms/file (sys ${fmt((sys * 1000) / files, 3)})` : '—'
}

function gdcmanonPath(): string | null {
  const p = process.env.KURA_BENCH_GDCMANON ?? 'gdcmanon'
  const r = spawnSync(p, ['--version'], { encoding: 'utf8' })
  return r.error ? null : p
}

function gdcmanonArgs(inDir: string, outDir: string): string[] {
  return ['--dumb', '--continue', '--recursive', ...GDCM_EMPTY.flatMap((t) => ['--empty', t]), ...GDCM_REMOVE.flatMap((t) => ['--remove', t]), '-i', inDir, '-o', outDir]
}

/** Counts regular files under dir (gdcmanon mirrors the input tree). */
function countFiles(dir: string): { n: number; bytes: number } {
  let n = 0, bytes = 0
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile() && !e.name.startsWith('.')) { n++; bytes += statSync(p).size }
    }
  }
  walk(dir)
  return { n, bytes }
}

export async function run(argv: string[]): Promise<void> {
  const f = await parseFlags(argv, USAGE, {
    studies: { type: 'string', default: '5', help: 'corpus A: studies' },
    series: { type: 'string', default: '2', help: 'corpus A: series per study' },
    instances: { type: 'string', default: '500', help: 'corpus A: instances per series (5×2×500 = 5,000 files: long enough to time)' },
    rows: { type: 'string', default: '128', help: 'corpus A: image rows' },
    cols: { type: 'string', default: '128', help: 'corpus A: image columns' },
    seed: { type: 'string', default: '1', help: 'corpus A seed' },
    generator: { type: 'string', default: 'auto', help: 'auto | synth | fallback' },
    'large-count': { type: 'string', default: '2', help: 'corpus B: number of large objects (0 skips corpus B)' },
    'large-frames': { type: 'string', default: '1000', help: 'corpus B: frames per object (512×512×16-bit: 1000 ≈ 500 MB)' },
    threads: { type: 'string', default: String(os.availableParallelism()), help: 'Kura: worker threads (default: one per core; 0: this thread, --concurrency files in flight)' },
    concurrency: { type: 'string', default: '4', help: 'Kura with --threads 0: files in flight' },
    warmup: { type: 'string', default: '4000', help: 'Kura: files de-identified first (corpus A, round again as needed), not timed, spread over the threads (0: a cold start)' },
    only: { type: 'string', default: 'both', help: 'kura | gdcmanon | both' },
    rounds: { type: 'string', default: '5', help: 'timed rounds per corpus, the sides alternating which goes first; the median round is reported' },
    verify: { type: 'boolean', default: false, help: 'Kura: what `kura deid` does per file (deidentifyFile: also SHA-256 and the verification scan), not deidentify() alone' },
    'out-dir': { type: 'string', default: os.tmpdir(), help: 'where both sides write their outputs (e.g. /dev/shm: file creation off the disk for both)' },
  })
  if (!f) return
  console.log(await machineLine())
  const concurrency = num(f.concurrency, 'concurrency')
  const threads = num(f.threads, 'threads')
  const largeCount = num(f['large-count'], 'large-count'), largeFrames = num(f['large-frames'], 'large-frames')
  const doKura = f.only !== 'gdcmanon', doGdcm = f.only !== 'kura'
  let gdcm = doGdcm ? gdcmanonPath() : null
  if (doGdcm && !gdcm) loud('gdcmanon not found (apt-get install libgdcm-tools, or KURA_BENCH_GDCMANON=/path): the gdcmanon side is SKIPPED.\nKura\'s figures still print; no ratio.')

  const corpusA = await ensureCorpus({
    studies: num(f.studies, 'studies'), series: num(f.series, 'series'), instances: num(f.instances, 'instances'),
    rows: num(f.rows, 'rows'), cols: num(f.cols, 'cols'), seed: num(f.seed, 'seed'), modality: 'CT', generator: f.generator as 'auto',
  })
  console.log(`corpus A: ${corpusA.files.length} CT files, ${fmt(mb(corpusA.totalBytes))} MB, ${corpusA.generator} generator, ${corpusA.reused ? 'reused' : `built in ${fmt(corpusA.seconds)} s`} (${corpusA.dir})`)
  // Kura's outputs keep each input's path relative to its corpus folder, as gdcmanon --recursive and `kura deid` do.
  const relOuts = (dir: string, files: string[]) => files.map((p) => path.relative(dir, p))
  const corpora: Array<{ name: string; dir: string; files: string[]; outs: string[]; totalBytes: number }> = [{ name: `A: ${corpusA.files.length} small CT`, ...corpusA, outs: relOuts(corpusA.dir, corpusA.files) }]
  if (largeCount > 0) {
    const b = ensureLargeObjects(largeCount, largeFrames)
    console.log(`corpus B: ${b.files.length} multi-frame objects × ${largeFrames} frames, ${fmt(mb(b.totalBytes))} MB (${b.dir}, ${fmt(b.seconds)} s)`)
    corpora.push({ name: `B: ${b.files.length} × ${fmt(mb(b.totalBytes / b.files.length), 0)} MB multi-frame`, ...b, outs: relOuts(b.dir, b.files) })
  }
  if (gdcm) console.log(`gdcmanon: ${gdcm} ${gdcmanonArgs('<in>', '<out>').join(' ').replace(/(--(?:empty|remove) \S+ )+/g, '… ')}\n  --dumb mode, ${GDCM_TAG_COUNT} tags (${GDCM_EMPTY.length} emptied, ${GDCM_REMOVE.length} removed), one process over the folder; Kura applies every row of PS3.15 Table E.1-1 (BASIC_POLICY).`)

  const secret = generateSecret()
  const verify = Boolean(f.verify)
  if (verify) console.log('Kura: --verify, each file as `kura deid` does it (deidentifyFile: de-identify, write, SHA-256, verification scan)')
  const kura = doKura ? await KuraRunner.start(threads, concurrency) : null
  const how = threads > 0 ? `${threads} worker thread${threads === 1 ? '' : 's'}` : `one thread, concurrency ${concurrency}`
  if (kura) console.log(`Kura: ${how} (gdcmanon is one process; Kura uses every core it is given: --threads 1 for one)`)
  // Every output stays until the end (deleting a side's files would load the disk during the next side's run).
  const outs: string[] = []
  const outDir = (prefix: string, root = String(f['out-dir'])) => {
    const d = mkdtempSync(path.join(root, prefix))
    outs.push(d)
    return d
  }
  const results: Array<{ corpus: string; totalBytes: number; sides: Side[] }> = []
  try {
    // The gateway runs for days, so its steady state is what counts; JavaScript reaches it after a thousand or so
    // objects per thread of JIT warm-up (in memory: 2,400 files/s over the first 1,000, 10,000 after; in the bench,
    // 0.53 ms CPU per file after 1,000 warm-up files, 0.21 ms after 6,000), which a one-second run
    // would otherwise mostly measure. gdcmanon has no JIT to warm.
    const warmup = num(f.warmup, 'warmup')
    if (kura && warmup > 0) {
      // More warm-up files than corpus A holds go round it again. Their outputs go to memory where there is a
      // tmpfs: thousands of inodes created and later freed on the disk would slow every later create there.
      const warmRoot = existsSync('/dev/shm') ? '/dev/shm' : String(f['out-dir'])
      await kura.run(Array.from({ length: warmup }, (_, i) => corpusA.files[i % corpusA.files.length]!), Array.from({ length: warmup }, (_, i) => `${Math.floor(i / 500)}/${i}.dcm`), outDir('kura-bench-deid-warm-', warmRoot), secret, verify)
      console.log(`Kura: warmed up on ${warmup} files of corpus A first (not timed; --warmup 0 for a cold start)`)
    }
    const rounds = Math.max(1, num(f.rounds, 'rounds'))
    const runGdcm = (c: (typeof corpora)[number], out: string): Side => {
      settleDisk()
      const t0 = nowMs(), c0 = childrenCpu()
      const r = spawnSync(gdcm!, gdcmanonArgs(c.dir, out), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
      const seconds = (nowMs() - t0) / 1000
      const c1 = childrenCpu()
      const sys = c1.sys - c0.sys, cpu = c1.user - c0.user + sys
      const done = countFiles(out)
      console.log(`gdcmanon, corpus ${c.name}: ${done.n}/${c.files.length} files in ${fmt(seconds, 2)} s, CPU ${cpuPerFile(cpu, sys, done.n)} (exit ${r.status}, load ${os.loadavg()[0].toFixed(2)})`)
      if (r.status !== 0 || done.n !== c.files.length) loud(`gdcmanon exit ${r.status}, ${done.n} of ${c.files.length} files written:\n${(r.stderr || r.stdout || '').slice(0, 800)}`)
      return { tool: 'gdcmanon', files: done.n, bytes: c.totalBytes, seconds, failed: c.files.length - done.n, cpu, sys }
    }
    const runKura = async (c: (typeof corpora)[number], out: string): Promise<Side> => {
      settleDisk()
      const t0 = nowMs(), c0 = selfCpu()
      const r = await kura!.run(c.files, c.outs, out, secret, verify)
      const seconds = (nowMs() - t0) / 1000
      const c1 = selfCpu()
      const sys = c1.sys - c0.sys, cpu = c1.user - c0.user + sys
      console.log(`Kura, corpus ${c.name}: ${r.ok}/${c.files.length} files in ${fmt(seconds, 2)} s, CPU ${cpuPerFile(cpu, sys, r.ok)} (${how}, load ${os.loadavg()[0].toFixed(2)})`)
      if (r.failed) loud(`Kura: ${r.failed} files failed:\n${r.errors.join('\n')}`)
      return { tool: 'Kura', files: r.ok, bytes: c.totalBytes, seconds, failed: r.failed, cpu, sys }
    }
    for (const c of corpora) {
      const all: Record<Side['tool'], Side[]> = { gdcmanon: [], Kura: [] }
      for (let round = 0; round < rounds; round++) {
        // The sides alternate which goes first, so neither always inherits the other's disk state.
        const order: Array<Side['tool']> = round % 2 === 0 ? ['gdcmanon', 'Kura'] : ['Kura', 'gdcmanon']
        const roundOuts: string[] = []
        for (const tool of order) {
          if (tool === 'gdcmanon' ? !gdcm : !kura) continue
          const out = outDir(tool === 'gdcmanon' ? 'kura-bench-deid-gdcm-' : 'kura-bench-deid-kura-')
          roundOuts.push(out)
          all[tool].push(tool === 'gdcmanon' ? runGdcm(c, out) : await runKura(c, out))
        }
        // Large outputs go at the end of their round (a few files, and gigabytes of them would pile up).
        if (c.totalBytes / c.files.length > 64 * 1024 * 1024) for (const d of roundOuts) rmSync(d, { recursive: true, force: true })
      }
      // The median round of each side (by seconds) stands for it; every round's seconds are printed with it.
      const sides: Side[] = []
      for (const list of [all.gdcmanon, all.Kura]) {
        if (list.length === 0) continue
        const sorted = [...list].sort((a, b) => (a.seconds ?? 0) - (b.seconds ?? 0))
        sides.push({ ...sorted[(sorted.length - 1) >> 1]!, note: list.map((x) => fmt(x.seconds, 2)).join(' / ') })
      }
      results.push({ corpus: c.name, totalBytes: c.totalBytes, sides })
      if (all.gdcmanon.length && all.Kura.length) {
        const per = all.Kura.map((k, i) => (k.files! / k.seconds!) / (all.gdcmanon[i]!.files! / all.gdcmanon[i]!.seconds!))
        const sorted = [...per].sort((x, y) => x - y)
        console.log(`  corpus ${c.name}: Kura/gdcmanon files/s per round ${per.map((x) => `${x.toFixed(2)}×`).join(', ')} (median of the rounds' ratios ${sorted[(sorted.length - 1) >> 1]!.toFixed(2)}×)`)
      }
    }
  } finally {
    await kura?.close()
    for (const d of outs) rmSync(d, { recursive: true, force: true })
  }

  const t = [['corpus', 'tool', 'files', 'failed', 'seconds', 'files/s', 'MB/s', 'Kura/gdcmanon files/s', 'CPU s', 'CPU ms/file (of it sys)', 'seconds per round']]
  for (const r of results) {
    const g = r.sides.find((s) => s.tool === 'gdcmanon')
    for (const s of r.sides) {
      const fps = s.files && s.seconds ? s.files / s.seconds : undefined
      const gfps = g?.files && g.seconds ? g.files / g.seconds : undefined
      t.push([r.corpus, s.tool, String(s.files ?? '—'), String(s.failed ?? '—'), fmt(s.seconds, 2), fmt(fps), s.seconds ? fmt(mb(r.totalBytes) / s.seconds) : '—', s.tool === 'Kura' ? ratio(fps, gfps) : '', fmt(s.cpu, 2), s.cpu !== undefined && s.files ? cpuPerFile(s.cpu, s.sys ?? 0, s.files) : '—', s.note ?? ''])
    }
  }
  printTable(t, `De-identification — Kura BASIC_POLICY (whole Table E.1-1) vs gdcmanon --dumb (${GDCM_TAG_COUNT} tags); load average now ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  const [a, b] = results
  const ka = a?.sides.find((s) => s.tool === 'Kura'), ga = a?.sides.find((s) => s.tool === 'gdcmanon')
  if (ka?.seconds && ga?.seconds && ka.files && ga.files) {
    const x = (ka.files / ka.seconds) / (ga.files / ga.seconds)
    console.log(`  corpus A: Kura/gdcmanon files/s = ${x.toFixed(2)}× (target ≥ 1.0×) ${x >= 1 ? 'MET' : 'NOT MET'}`)
  }
  const kb = b?.sides.find((s) => s.tool === 'Kura')
  if (kb?.seconds) {
    const gbs = b.totalBytes / kb.seconds / 1e9
    console.log(`  corpus B: Kura ${gbs.toFixed(2)} GB/s (target ≥ 1 GB/s) ${gbs >= 1 ? 'MET' : 'NOT MET'}`)
  }
}

runIfMain(import.meta.url, run)
