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
 * its output stream written to a temp dir, `--concurrency` files in flight.
 * gdcmanon: ONE process over the whole input folder, `--dumb` mode, a fixed list of tags (GDCM_TAGS below,
 * 48 tags, `--empty` for type 2 attributes, `--remove` for the rest); UIDs are not remapped, nothing is inserted.
 * The two do not do the same amount of work: the comparison is "what each tool does to make the file shareable".
 *
 *   npx tsx bench/deid.ts --help
 */
import { spawnSync } from 'node:child_process'
import { closeSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync, readFileSync, writeFileSync } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import os from 'node:os'
import path from 'node:path'
import { FileSource } from '@kura/core'
import { readDicom } from '@kura/dicom'
import { largeObjectHeader } from './lib/dicom-bytes.ts'
import { deidentify, deidentifyBytes, BASIC_POLICY, generateSecret, SMALL_OBJECT_BYTES } from '@kura/deid'
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

interface Side {
  tool: 'Kura' | 'gdcmanon'
  files?: number
  bytes?: number
  seconds?: number
  failed?: number
  note?: string
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

/** Kura: de-identifies every file into outDir, `concurrency` at a time; returns files done and failures. */
async function runKura(files: string[], outDir: string, concurrency: number, secret: Uint8Array): Promise<{ ok: number; failed: number; errors: string[] }> {
  let next = 0, ok = 0, failed = 0
  const errors: string[] = []
  const worker = async () => {
    while (next < files.length) {
      const i = next++
      const ctx = { policy: BASIC_POLICY, secret, collection: 'bench' }
      const out = path.join(outDir, `${i}.dcm`)
      // Small objects in memory (as kura deid and the gateway do), large ones streamed.
      if (statSync(files[i]).size <= SMALL_OBJECT_BYTES) {
        try {
          // Synchronous file calls: for a few tens of KB a thread-pool round trip costs more than the copy.
          writeFileSync(out, (await deidentifyBytes(readFileSync(files[i]), ctx)).output)
          ok++
        } catch (e) {
          failed++
          if (errors.length < 5) errors.push(`${files[i]}: ${(e as Error).message}`)
        }
        continue
      }
      const src = await FileSource.open(files[i])
      try {
        const parsed = await readDicom(src)
        const { output } = await deidentify(parsed, src, ctx)
        await pipeline(Readable.from(output), createWriteStream(out))
        ok++
      } catch (e) {
        failed++
        if (errors.length < 5) errors.push(`${files[i]}: ${(e as Error).message}`)
      } finally {
        await src.close()
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker))
  return { ok, failed, errors }
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
    instances: { type: 'string', default: '100', help: 'corpus A: instances per series (5×2×100 = 1,000 files)' },
    rows: { type: 'string', default: '128', help: 'corpus A: image rows' },
    cols: { type: 'string', default: '128', help: 'corpus A: image columns' },
    seed: { type: 'string', default: '1', help: 'corpus A seed' },
    generator: { type: 'string', default: 'auto', help: 'auto | synth | fallback' },
    'large-count': { type: 'string', default: '2', help: 'corpus B: number of large objects (0 skips corpus B)' },
    'large-frames': { type: 'string', default: '1000', help: 'corpus B: frames per object (512×512×16-bit: 1000 ≈ 500 MB)' },
    concurrency: { type: 'string', default: '4', help: 'Kura: files in flight' },
    warmup: { type: 'string', default: '300', help: 'Kura: files de-identified first, not timed (0: a cold start)' },
    only: { type: 'string', default: 'both', help: 'kura | gdcmanon | both' },
  })
  if (!f) return
  console.log(await machineLine())
  const concurrency = num(f.concurrency, 'concurrency')
  const largeCount = num(f['large-count'], 'large-count'), largeFrames = num(f['large-frames'], 'large-frames')
  const doKura = f.only !== 'gdcmanon', doGdcm = f.only !== 'kura'
  let gdcm = doGdcm ? gdcmanonPath() : null
  if (doGdcm && !gdcm) loud('gdcmanon not found (apt-get install libgdcm-tools, or KURA_BENCH_GDCMANON=/path): the gdcmanon side is SKIPPED.\nKura\'s figures still print; no ratio.')

  const corpusA = await ensureCorpus({
    studies: num(f.studies, 'studies'), series: num(f.series, 'series'), instances: num(f.instances, 'instances'),
    rows: num(f.rows, 'rows'), cols: num(f.cols, 'cols'), seed: num(f.seed, 'seed'), modality: 'CT', generator: f.generator as 'auto',
  })
  console.log(`corpus A: ${corpusA.files.length} CT files, ${fmt(mb(corpusA.totalBytes))} MB, ${corpusA.generator} generator, ${corpusA.reused ? 'reused' : `built in ${fmt(corpusA.seconds)} s`} (${corpusA.dir})`)
  const corpora: Array<{ name: string; dir: string; files: string[]; totalBytes: number }> = [{ name: `A: ${corpusA.files.length} small CT`, ...corpusA }]
  if (largeCount > 0) {
    const b = ensureLargeObjects(largeCount, largeFrames)
    console.log(`corpus B: ${b.files.length} multi-frame objects × ${largeFrames} frames, ${fmt(mb(b.totalBytes))} MB (${b.dir}, ${fmt(b.seconds)} s)`)
    corpora.push({ name: `B: ${b.files.length} × ${fmt(mb(b.totalBytes / b.files.length), 0)} MB multi-frame`, ...b })
  }
  if (gdcm) console.log(`gdcmanon: ${gdcm} ${gdcmanonArgs('<in>', '<out>').join(' ').replace(/(--(?:empty|remove) \S+ )+/g, '… ')}\n  --dumb mode, ${GDCM_TAG_COUNT} tags (${GDCM_EMPTY.length} emptied, ${GDCM_REMOVE.length} removed), one process over the folder; Kura applies every row of PS3.15 Table E.1-1 (BASIC_POLICY).`)

  const secret = generateSecret()
  // The gateway runs for days, so its steady state is what counts; JavaScript reaches it after a few hundred
  // objects of JIT warm-up, which a one-second run would otherwise mostly measure. gdcmanon has no JIT to warm.
  const warmup = Math.min(num(f.warmup, 'warmup'), corpusA.files.length)
  if (doKura && warmup > 0) {
    const out = mkdtempSync(path.join(os.tmpdir(), 'kura-bench-deid-warm-'))
    try {
      await runKura(corpusA.files.slice(0, warmup), out, concurrency, secret)
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
    console.log(`Kura: warmed up on ${warmup} files of corpus A first (not timed; --warmup 0 for a cold start)`)
  }
  const results: Array<{ corpus: string; totalBytes: number; sides: Side[] }> = []
  for (const c of corpora) {
    const sides: Side[] = []
    results.push({ corpus: c.name, totalBytes: c.totalBytes, sides })
    if (gdcm) {
      const out = mkdtempSync(path.join(os.tmpdir(), 'kura-bench-deid-gdcm-'))
      try {
        const t0 = nowMs()
        const r = spawnSync(gdcm, gdcmanonArgs(c.dir, out), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
        const seconds = (nowMs() - t0) / 1000
        const done = countFiles(out)
        sides.push({ tool: 'gdcmanon', files: done.n, bytes: c.totalBytes, seconds, failed: c.files.length - done.n })
        console.log(`gdcmanon, corpus ${c.name}: ${done.n}/${c.files.length} files in ${fmt(seconds, 2)} s (exit ${r.status})`)
        if (r.status !== 0 || done.n !== c.files.length) loud(`gdcmanon exit ${r.status}, ${done.n} of ${c.files.length} files written:\n${(r.stderr || r.stdout || '').slice(0, 800)}`)
      } finally {
        rmSync(out, { recursive: true, force: true })
      }
    }
    if (doKura) {
      const out = mkdtempSync(path.join(os.tmpdir(), 'kura-bench-deid-kura-'))
      try {
        const t0 = nowMs()
        const r = await runKura(c.files, out, concurrency, secret)
        const seconds = (nowMs() - t0) / 1000
        sides.push({ tool: 'Kura', files: r.ok, bytes: c.totalBytes, seconds, failed: r.failed })
        console.log(`Kura, corpus ${c.name}: ${r.ok}/${c.files.length} files in ${fmt(seconds, 2)} s (concurrency ${concurrency})`)
        if (r.failed) loud(`Kura: ${r.failed} files failed:\n${r.errors.join('\n')}`)
      } finally {
        rmSync(out, { recursive: true, force: true })
      }
    }
  }

  const t = [['corpus', 'tool', 'files', 'failed', 'seconds', 'files/s', 'MB/s', 'Kura/gdcmanon files/s']]
  for (const r of results) {
    const g = r.sides.find((s) => s.tool === 'gdcmanon')
    for (const s of r.sides) {
      const fps = s.files && s.seconds ? s.files / s.seconds : undefined
      const gfps = g?.files && g.seconds ? g.files / g.seconds : undefined
      t.push([r.corpus, s.tool, String(s.files ?? '—'), String(s.failed ?? '—'), fmt(s.seconds, 2), fmt(fps), s.seconds ? fmt(mb(r.totalBytes) / s.seconds) : '—', s.tool === 'Kura' ? ratio(fps, gfps) : ''])
    }
  }
  printTable(t, `De-identification — Kura BASIC_POLICY (whole Table E.1-1) vs gdcmanon --dumb (${GDCM_TAG_COUNT} tags)`)
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
