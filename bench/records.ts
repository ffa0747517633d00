/**
 * @module Clinical record throughput of the gateway: SS-MIX2 messages handed to the pipeline, parsed, mapped,
 * validated, de-identified, verified and queued (or held), through the gateway's own code: the SS-MIX2 source's
 * hand-off (Pipeline.receivedRecords, a few batches in flight as the source keeps them) and the pipeline's own
 * record loop (each batch staged while the one before it is settled, then settled with its files' "taken" rows in
 * one transaction), on a real outbox (SQLite, WAL, synchronous FULL) in a temp folder.
 *
 * Messages come from @kura/records/synth (synthSsmix2Files: realistic patients, several years each), generated
 * first into one temp file (not timed, and not competing for the cores while the pipeline runs) and read back a
 * batch at a time as the source reads message files, so the figure is the pipeline's, not the disk's directory
 * walk. Only the data types the SS-MIX2 source takes are counted (ADT-00, OMG-11, OMG-12, OML-11): orders, visits
 * and prescriptions never enter the gateway. Each message's SHA-256 is computed as the source does (it is stored
 * with the file's "taken" row).
 *
 * With --threads N (default: one per core) the record stage runs on N worker threads (pooledRecordEngine): while
 * they stage batch k+1, the main thread settles batch k. --threads 0 stages in-thread and splits the time by step.
 *
 * With --tree the messages are written as a real SS-MIX2 tree first (not timed) and the SS-MIX2 source itself scans
 * it (Ssmix2Source: directory listings, a stat and a read per file, the condition flags), so its walk is measured
 * too; the messages it hands off are counted (superseded versions of an order are not sent).
 *
 *   npx kura bench records [--messages 1000000] [--threads 2] [--tree]
 */
import { hash } from 'node:crypto'
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BASIC_POLICY, generateSecret } from '@kura/deid'
import { synthSsmix2Files, type Ssmix2SynthFile } from '@kura/records/synth'
import { HANDOFFS_IN_FLIGHT, Outbox, Pipeline, RecordOutbox, SSMIX2_RECORD_TYPES, Ssmix2Source, pooledRecordEngine, recordEngine, type RecordEngine, type RecordInput, type TakenFile } from '@kura/gateway'
import { fmt, machineLine, mb, nowMs, num, parseFlags, printTable, runIfMain } from './lib/util.ts'

const USAGE = `
kura bench records — SS-MIX2 messages parsed, mapped, de-identified and queued into the gateway's outbox

  npx kura bench records [options]
  npx tsx bench/records.ts [options]

Target (issue 8): ≥ 20,000 messages/s on this machine, memory flat.`

const TARGET = 20_000

/** Endless record-type messages from ever more synthetic patients, `chunk` at a time. */
function* messages(seed: number): Generator<Ssmix2SynthFile> {
  const wanted = new Set(SSMIX2_RECORD_TYPES)
  for (let round = 0; ; round++) {
    const gen = synthSsmix2Files({ patients: 2000, seed: seed + round, years: 5, collect: false, malformed: false })
    for (;;) {
      const n = gen.next()
      if (n.done) break
      if (wanted.has(n.value.path.split('/')[4]!)) yield n.value
    }
  }
}

/**
 * Writes `total` messages into `file` (path and bytes, length-prefixed), so that the timed run only reads them back.
 * Returns the generation time (ms).
 */
function generate(file: string, total: number, seed: number): number {
  const t = nowMs()
  const fd = openSync(file, 'w')
  const gen = messages(seed)
  const head = Buffer.alloc(8)
  for (let i = 0; i < total; i++) {
    const m = gen.next().value as Ssmix2SynthFile
    const p = Buffer.from(m.path, 'utf8')
    head.writeUInt32LE(p.length, 0)
    head.writeUInt32LE(m.bytes.length, 4)
    writeSync(fd, head)
    writeSync(fd, p)
    writeSync(fd, m.bytes)
  }
  closeSync(fd)
  return nowMs() - t
}

/** Writes `total` messages as files of an SS-MIX2 tree under `root`. Returns the time taken (ms). */
function writeTree(root: string, total: number, seed: number): number {
  const t = nowMs()
  const gen = messages(seed)
  const made = new Set<string>()
  for (let i = 0; i < total; i++) {
    const m = gen.next().value as Ssmix2SynthFile
    const file = path.join(root, m.path)
    const folder = path.dirname(file)
    if (!made.has(folder)) { mkdirSync(folder, { recursive: true }); made.add(folder) }
    writeFileSync(file, m.bytes)
  }
  return nowMs() - t
}

/** The generated messages, `batch` at a time, as the SS-MIX2 source hands them off (with each file's "taken" row). */
function* readBack(file: string, batch: number, treeDir: string, source: string): Generator<Array<RecordInput & { file: TakenFile }>> {
  const fd = openSync(file, 'r')
  const head = Buffer.alloc(8)
  let mtimeMs = 0
  try {
    for (;;) {
      const out: Array<RecordInput & { file: TakenFile }> = []
      while (out.length < batch && readSync(fd, head, 0, 8, null) === 8) {
        const p = Buffer.alloc(head.readUInt32LE(0))
        const bytes = Buffer.alloc(head.readUInt32LE(4))
        readSync(fd, p, 0, p.length, null)
        readSync(fd, bytes, 0, bytes.length, null)
        const ref = p.toString('utf8')
        const sha256 = hash('sha256', bytes, 'hex')
        out.push({ source, ref, format: 'ssmix2', raw: bytes, file: { path: path.join(treeDir, ref), size: bytes.length, mtimeMs: mtimeMs++, sha256 } })
      }
      if (out.length === 0) return
      yield out
    }
  } finally {
    closeSync(fd)
  }
}

/** Bytes this process has had written to disk so far (Linux), or null: the outbox's I/O, per message, beside its time. */
function diskWrites(): number | null {
  try {
    const m = /^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/**
 * CPU time (µs) of this process's main thread so far (Linux: /proc/self/task/<pid>/stat, in clock ticks of 10 ms),
 * or null: with worker threads, what the main thread spends (hand-off, messaging, settling) competes with staging.
 */
function mainThreadCpuUs(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) * 10_000
  } catch {
    return null
  }
}

/** The engine with the time spent in each of its steps added up (ms), to show where a message's time goes. */
function timed(engine: RecordEngine): { engine: RecordEngine; ms: Record<keyof RecordEngine, number> } {
  const ms = { readSsmix2: 0, validate: 0, deidentify: 0, verify: 0 } as Record<keyof RecordEngine, number>
  const wrap = <K extends keyof RecordEngine>(k: K): RecordEngine[K] => ((...args: unknown[]) => {
    const t = nowMs()
    try { return (engine[k] as (...a: unknown[]) => unknown)(...args) } finally { ms[k] += nowMs() - t }
  }) as RecordEngine[K]
  return { engine: { readSsmix2: wrap('readSsmix2'), validate: wrap('validate'), deidentify: wrap('deidentify'), verify: wrap('verify') }, ms }
}

export async function run(argv: string[]): Promise<void> {
  const flags = await parseFlags(argv, USAGE, {
    messages: { type: 'string', default: '1000000', help: 'messages to process' },
    batch: { type: 'string', default: '2000', help: 'messages per hand-off (2000: the SS-MIX2 source\'s batch and the pipeline\'s RECORD_BATCH)' },
    every: { type: 'string', default: '100000', help: 'print a progress line every this many messages' },
    seed: { type: 'string', default: '1', help: 'generator seed' },
    threads: { type: 'string', default: String(os.availableParallelism()), help: 'record stage worker threads (0: in-thread, with the time split by step)' },
    keep: { type: 'boolean', default: false, help: 'keep the outbox folder' },
    tree: { type: 'boolean', default: false, help: 'write a real SS-MIX2 tree and let the SS-MIX2 source scan it (its walk measured too)' },
  })
  if (!flags) return
  const total = num(flags.messages, 'messages')
  const batch = num(flags.batch, 'batch')
  const every = num(flags.every, 'every')
  console.log(await machineLine())

  const dir = mkdtempSync(path.join(os.tmpdir(), 'kura-bench-records-'))
  const outbox = Outbox.open(dir)
  outbox.recover()
  const records = new RecordOutbox(outbox)
  const secret = generateSecret()
  const settings = { policy: BASIC_POLICY, secret, collection: 'bench' }
  const threads = num(flags.threads, 'threads')
  const steps = timed(recordEngine(settings))
  const pool = threads > 0 ? pooledRecordEngine(settings, threads) : null
  const pipeline = new Pipeline(outbox, settings, { records: pool ?? steps.engine })
  const source = `ssmix2:${path.join(dir, 'tree')}`

  const genFile = path.join(dir, 'messages.bin')
  const tree = path.join(dir, 'tree')
  const genMs = flags.tree ? writeTree(tree, total, num(flags.seed, 'seed')) : generate(genFile, total, num(flags.seed, 'seed'))
  // What the process holds before a message enters the pipeline (the workers' heaps, the generator's leftovers):
  // the pipeline's own share of the RSS is what comes on top.
  const startRss = process.memoryUsage()
  let done = 0
  let bytes = 0
  let lastDone = 0
  let lastWork = 0
  const rssMb: number[] = []
  const rows: string[][] = [['messages', 'msgs/s (interval)', 'msgs/s (overall)', 'MB/s', 'RSS MB', 'heap MB']]
  const cpu = (): number => { const u = process.cpuUsage(); return u.user + u.system }
  const t0 = nowMs()
  const written0 = diskWrites()
  const cpu0 = cpu()
  const main0 = mainThreadCpuUs()
  let mainUs: number | null = null
  const workMs = () => nowMs() - t0
  const progress = (n: number, b: number): void => {
    const before = done
    done += n
    bytes += b
    if (Math.floor(done / every) === Math.floor(before / every) && done !== total) return
    const rss = process.memoryUsage().rss / 2 ** 20
    rssMb.push(rss)
    const w = workMs()
    const interval = (done - lastDone) / ((w - lastWork) / 1000)
    rows.push([String(done), fmt(interval, 0), fmt(done / (w / 1000), 0), fmt(mb(bytes) / (w / 1000), 2), fmt(rss, 0), fmt(process.memoryUsage().heapUsed / 2 ** 20, 0)])
    console.log(`${done} messages: ${fmt(interval, 0)} msgs/s (interval), ${fmt(done / (w / 1000), 0)} msgs/s overall, RSS ${fmt(rss, 0)} MB`)
    lastDone = done
    lastWork = w
  }
  let cpuUs = 0
  let elapsedMs = 0
  pipeline.start()
  try {
    if (flags.tree) {
      // The source itself: one full scan, handing off `batch` files at a time, HANDOFFS_IN_FLIGHT unsettled at most.
      const ssmix2 = new Ssmix2Source({ path: tree, rescanSeconds: 3600, settleSeconds: 0 }, outbox, {
        batch,
        handOff: (inputs) => {
          let b = 0
          for (const i of inputs) b += i.file.size
          return pipeline.receivedRecords(inputs).then(() => progress(inputs.length, b))
        },
      })
      await ssmix2.scan()
      if (ssmix2.lastError) throw new Error(ssmix2.lastError)
    } else {
      // The SS-MIX2 source's loop: hand a batch off, read the next while at most HANDOFFS_IN_FLIGHT wait to be settled.
      const inFlight: Array<Promise<void>> = []
      for (const inputs of readBack(genFile, batch, tree, source)) {
        let b = 0
        for (const i of inputs) b += i.file.size
        inFlight.push(pipeline.receivedRecords(inputs).then(() => progress(inputs.length, b)))
        while (inFlight.length > HANDOFFS_IN_FLIGHT) await inFlight.shift()
      }
      await Promise.all(inFlight)
    }
    elapsedMs = workMs()
    cpuUs = cpu() - cpu0
    const main1 = mainThreadCpuUs()
    mainUs = main0 === null || main1 === null ? null : main1 - main0
  } finally {
    await pipeline.stop()
    await pool?.close()
    const counts = records.counts()
    const dbBytes = ['outbox.sqlite', 'outbox.sqlite-wal'].reduce((n, f) => { try { return n + statSync(path.join(dir, f)).size } catch { return n } }, 0)
    outbox.close()
    // After close, which checkpoints what the WAL still holds: every byte the run wrote counts.
    const written = written0 === null ? null : (diskWrites() ?? written0) - written0
    printTable(rows, 'SS-MIX2 messages → outbox (parse, map, validate, de-identify, verify, queue)')
    const rate = done / (elapsedMs / 1000)
    const c = pipeline.counters
    console.log(`  ${done} messages, ${fmt(mb(bytes), 1)} MB of HL7, in ${fmt(elapsedMs / 1000, 1)} s of pipeline time (${fmt(genMs / 1000, 1)} s generating${flags.tree ? ' the tree' : ''} before, not counted)`)
    const per = (v: number) => `${fmt((v / done) * 1000, 0)} µs`
    const m = steps.ms
    const rest = elapsedMs - m.readSsmix2 - m.validate - m.deidentify - m.verify
    if (!pool) console.log(`  per message: parse+map ${per(m.readSsmix2)}, validate ${per(m.validate)}, de-identify ${per(m.deidentify)}, verify ${per(m.verify)}, outbox (hand-off, key, settle) ${per(rest)}`)
    else console.log(`  per message: ${per(cpuUs / 1000)} CPU (all threads)${mainUs === null ? '' : `, ${per(mainUs / 1000)} of it on the main thread (hand-off, messaging, settle)`}; ${pool.failures.count} batches staged in-thread after a worker failed`)
    console.log(`  CPU: ${fmt(cpuUs / 1e6, 1)} s of this process's CPU (all threads) for ${fmt(elapsedMs / 1000, 1)} s of pipeline time: ${fmt(done / (cpuUs / 1e6), 0)} msgs per CPU-second (what one idle core would do)`)
    console.log(`  outcome: ${c.recordsQueued} records queued, ${c.recordsHeld} held, ${c.recordInputsIgnored} messages with no record; outbox ${JSON.stringify(counts.states)}, ${fmt(mb(dbBytes), 0)} MB on disk`)
    if (written !== null && done > 0) console.log(`  disk: ${fmt(written / done / 1024, 1)} KB written per message (outbox WAL and checkpoints; the HL7 averages ${fmt(bytes / done / 1024, 1)} KB)`)
    console.log(`  RSS before the first message: ${fmt(startRss.rss / 2 ** 20, 0)} MB (heap ${fmt(startRss.heapUsed / 2 ** 20, 0)} MB, external and buffers ${fmt((startRss.external + startRss.arrayBuffers) / 2 ** 20, 0)} MB)`)
    if (rssMb.length > 1) console.log(`  RSS: first ${fmt(rssMb[0], 0)} MB, max ${fmt(Math.max(...rssMb), 0)} MB, last ${fmt(rssMb[rssMb.length - 1], 0)} MB`)
    console.log(`  ${fmt(rate, 0)} msgs/s = ${(rate / TARGET).toFixed(2)}× the ${TARGET} msgs/s target: ${rate >= TARGET ? 'MET' : 'NOT MET'}`)
    if (flags.keep) console.log(`  outbox kept in ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  }
}

runIfMain(import.meta.url, run)
