/**
 * @module Clinical record throughput of the gateway: SS-MIX2 messages spooled into the outbox, parsed, mapped,
 * validated, de-identified, verified and queued (or held), through the gateway's own code: RecordOutbox.addInputs
 * (the SS-MIX2 source's batched spool transaction, with its "taken" rows) and Pipeline.processRecords (the record
 * stage and its settle transaction), on a real outbox (SQLite, WAL, synchronous FULL) in a temp folder.
 *
 * Messages come from @kura/records/synth (synthSsmix2Files: realistic patients, several years each), generated in
 * memory a chunk at a time and never written as files, so the figure is the pipeline's, not the disk's directory
 * walk. Only the data types the SS-MIX2 source takes are counted (ADT-00, OMG-11, OMG-12, OML-11): orders,
 * visits and prescriptions never enter the gateway. Generation time is measured apart and not counted.
 *
 * With --threads N (default: one per core) the record stage runs on N worker threads (pooledRecordEngine): while
 * they stage batch k+1, the main thread settles batch k, so the outbox's transactions and the parsing and
 * de-identification overlap. --threads 0 stages in-thread and splits the time by step.
 *
 *   npx kura bench records [--messages 1000000] [--threads 2]
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BASIC_POLICY, generateSecret } from '@kura/deid'
import { synthSsmix2Files, type Ssmix2SynthFile } from '@kura/records/synth'
import { Outbox, Pipeline, RecordOutbox, SSMIX2_RECORD_TYPES, pooledRecordEngine, recordEngine, type RecordEngine, type SpooledInput } from '@kura/gateway'
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

/** Bytes this process has had written to disk so far (Linux), or null: the outbox's I/O, per message, beside its time. */
function diskWrites(): number | null {
  try {
    const m = /^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))
    return m ? Number(m[1]) : null
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
    batch: { type: 'string', default: '2000', help: 'messages per spool and per pipeline transaction (2000: the pipeline\'s RECORD_BATCH)' },
    every: { type: 'string', default: '100000', help: 'print a progress line every this many messages' },
    seed: { type: 'string', default: '1', help: 'generator seed' },
    threads: { type: 'string', default: String(os.availableParallelism()), help: 'record stage worker threads (0: in-thread, with the time split by step)' },
    keep: { type: 'boolean', default: false, help: 'keep the outbox folder' },
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

  const gen = messages(num(flags.seed, 'seed'))
  let done = 0
  let bytes = 0
  let workMs = 0
  let genMs = 0
  let spoolMs = 0
  let stageMs = 0
  let lastDone = 0
  let lastWork = 0
  const rssMb: number[] = []
  const rows: string[][] = [['messages', 'msgs/s (interval)', 'msgs/s (overall)', 'MB/s', 'RSS MB', 'heap MB']]
  const t0 = nowMs()
  const written0 = diskWrites()
  let cpuUs = 0
  // The batch being staged (on the workers) while the one before it is settled.
  let staging: { inputs: SpooledInput[]; bytes: number; ready: Promise<void> } | null = null
  let spooled = 0
  const cpu = (): number => { const u = process.cpuUsage(); return u.user + u.system }
  try {
    while (done < total) {
      const w0 = nowMs()
      const c0 = cpu()
      if (staging) await staging.ready
      const w1 = nowMs()
      let genThis = 0
      let genCpu = 0
      let next: { inputs: SpooledInput[]; bytes: number; ready: Promise<void> } | null = null
      if (spooled < total) {
        // Generated while no batch is being staged, so generation neither counts nor competes for the cores.
        const g0 = nowMs()
        const gc0 = cpu()
        const files: Ssmix2SynthFile[] = []
        while (files.length < Math.min(batch, total - spooled)) files.push(gen.next().value as Ssmix2SynthFile)
        genCpu = cpu() - gc0
        genThis = nowMs() - g0
        const s0 = nowMs()
        // The SS-MIX2 source's transaction: the raw messages and what was taken, together.
        records.addInputs(
          files.map((f) => ({ source, ref: f.path, format: 'ssmix2', raw: f.bytes })),
          { taken: files.map((f, i) => ({ path: path.join(dir, 'tree', f.path), size: f.bytes.length, mtimeMs: spooled + i, sha256: '-' })) },
        )
        spooled += files.length
        const inputs = records.pendingInputs(batch, staging?.inputs.length ?? 0)
        let b = 0
        for (const f of files) b += f.bytes.length
        next = { inputs, bytes: b, ready: pool ? pool.prepare(inputs) : Promise.resolve() }
        spoolMs += nowMs() - s0
      }
      const w2 = nowMs()
      let progress = false
      // The pipeline's record stage (outputs prepared on the workers, or staged here) and its settle transaction.
      if (staging) {
        pipeline.processRecords(staging.inputs)
        bytes += staging.bytes
        const before = done
        done += staging.inputs.length
        progress = Math.floor(done / every) > Math.floor(before / every) || done === total
      }
      const w3 = nowMs()
      cpuUs += cpu() - c0 - genCpu
      genMs += genThis
      stageMs += (w1 - w0) + (w3 - w2)
      workMs += w3 - w0 - genThis
      staging = next
      if (progress) {
        const rss = process.memoryUsage().rss / 2 ** 20
        rssMb.push(rss)
        const interval = (done - lastDone) / ((workMs - lastWork) / 1000)
        rows.push([String(done), fmt(interval, 0), fmt(done / (workMs / 1000), 0), fmt(mb(bytes) / (workMs / 1000), 2), fmt(rss, 0), fmt(process.memoryUsage().heapUsed / 2 ** 20, 0)])
        console.log(`${done} messages: ${fmt(interval, 0)} msgs/s (interval), ${fmt(done / (workMs / 1000), 0)} msgs/s overall, RSS ${fmt(rss, 0)} MB`)
        lastDone = done
        lastWork = workMs
      }
    }
  } finally {
    await pool?.close()
    const counts = records.counts()
    const dbBytes = ['outbox.sqlite', 'outbox.sqlite-wal'].reduce((n, f) => { try { return n + statSync(path.join(dir, f)).size } catch { return n } }, 0)
    outbox.close()
    // After close, which checkpoints what the WAL still holds: every byte the run wrote counts.
    const written = written0 === null ? null : (diskWrites() ?? written0) - written0
    printTable(rows, 'SS-MIX2 messages → outbox (parse, map, validate, de-identify, verify, queue)')
    const rate = done / (workMs / 1000)
    const c = pipeline.counters
    console.log(`  ${done} messages, ${fmt(mb(bytes), 1)} MB of HL7, in ${fmt(workMs / 1000, 1)} s of pipeline time (${fmt((nowMs() - t0) / 1000, 1)} s wall, ${fmt(genMs / 1000, 1)} s generating, not counted)`)
    console.log(`  split: spool transaction ${fmt(spoolMs / 1000, 1)} s, record stage (waiting on ${pool ? `${pool.threads} worker threads` : 'this thread'}) + settle ${fmt(stageMs / 1000, 1)} s`)
    const per = (v: number) => `${fmt((v / done) * 1000, 0)} µs`
    const m = steps.ms
    const rest = workMs - m.readSsmix2 - m.validate - m.deidentify - m.verify
    if (!pool) console.log(`  per message: parse+map ${per(m.readSsmix2)}, validate ${per(m.validate)}, de-identify ${per(m.deidentify)}, verify ${per(m.verify)}, outbox (spool, key, settle) ${per(rest)}`)
    else console.log(`  per message: ${per(cpuUs / 1000)} CPU (all threads); ${pool.failures.count} batches staged in-thread after a worker failed`)
    console.log(`  CPU: ${fmt(cpuUs / 1e6, 1)} s of this process's CPU (all threads) for ${fmt(workMs / 1000, 1)} s of pipeline time: ${fmt(done / (cpuUs / 1e6), 0)} msgs per CPU-second (what one idle core would do)`)
    console.log(`  outcome: ${c.recordsQueued} records queued, ${c.recordsHeld} held, ${c.recordInputsIgnored} messages with no record; outbox ${JSON.stringify(counts.states)}, ${fmt(mb(dbBytes), 0)} MB on disk`)
    if (written !== null && done > 0) console.log(`  disk: ${fmt(written / done / 1024, 1)} KB written per message (outbox WAL and checkpoints; the HL7 averages ${fmt(bytes / done / 1024, 1)} KB)`)
    if (rssMb.length > 1) console.log(`  RSS: first ${fmt(rssMb[0], 0)} MB, max ${fmt(Math.max(...rssMb), 0)} MB, last ${fmt(rssMb[rssMb.length - 1], 0)} MB`)
    console.log(`  ${fmt(rate, 0)} msgs/s = ${(rate / TARGET).toFixed(2)}× the ${TARGET} msgs/s target: ${rate >= TARGET ? 'MET' : 'NOT MET'}`)
    if (flags.keep) console.log(`  outbox kept in ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  }
}

runIfMain(import.meta.url, run)
