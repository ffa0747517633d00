/**
 * @module The pipeline: takes every object the outbox holds as `received` (DICOM receiver, watched folders, and
 * whatever later sources spool), de-identifies and verifies it, and queues the clean output by series for upload.
 *
 * Clinical record inputs (spooled by the SS-MIX2 and vendor export sources into the outbox's `record_inputs`)
 * go through the record stage in batches, each batch settled in one transaction.
 *
 * It polls `incoming/` as well as being kicked by sources, so an object spooled by a source that did not tell it
 * (or before a crash) is still found. Low spool disk pauses it (the input stays where it is).
 */
import { rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { type Logger, silentLogger } from '@kura/core'
import { RecordOutbox, type Outbox, type OutboxRow, type RecordOutput, type SpooledInput } from '../outbox/index.ts'
import { deidentifyObject, type DeidSettings } from './deidentify-object.ts'
import { stageInput, type RecordEngine } from './record-stage.ts'

/** Record inputs per transaction: large enough that commits (fsync) are not the limit, small enough to stay responsive. */
const RECORD_BATCH = 2000

export interface PipelineOptions {
  concurrency?: number
  /** Pause when the spool's file system has less free space. */
  minFreeDiskBytes?: number
  pollMs?: number
  log?: Logger
  /** Called after objects were queued for upload. */
  onQueued?: () => void
  /** Reads, validates, de-identifies and verifies clinical records; without it record inputs wait in the spool. */
  records?: RecordEngine
}

export interface PipelineCounters {
  clean: number
  quarantined: number
  /** Clinical records queued, held (invalid or flagged), and inputs that held no record Kura maps. */
  recordsQueued: number
  recordsHeld: number
  recordInputsIgnored: number
  /** Why the pipeline is paused, or null. */
  paused: string | null
}

export class Pipeline {
  readonly counters: PipelineCounters = { clean: 0, quarantined: 0, recordsQueued: 0, recordsHeld: 0, recordInputsIgnored: 0, paused: null }
  private readonly outbox: Outbox
  private readonly settings: DeidSettings
  private readonly opts: Required<Omit<PipelineOptions, 'onQueued' | 'log' | 'records'>> & Pick<PipelineOptions, 'onQueued'>
  private readonly engine: RecordEngine | null
  private readonly records: RecordOutbox
  private readonly log: Logger
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private stopped = false
  private readonly inFlight = new Set<string>()

  constructor(outbox: Outbox, settings: DeidSettings, opts: PipelineOptions = {}) {
    this.outbox = outbox
    this.settings = settings
    this.opts = { concurrency: opts.concurrency ?? 2, minFreeDiskBytes: opts.minFreeDiskBytes ?? 0, pollMs: opts.pollMs ?? 1000, onQueued: opts.onQueued }
    this.log = opts.log ?? silentLogger
    this.engine = opts.records ?? null
    this.records = new RecordOutbox(outbox)
  }

  start(): void {
    this.stopped = false
    this.timer = setInterval(() => this.kick(), this.opts.pollMs)
    this.timer.unref()
    this.kick()
  }

  /** Look for work now. */
  kick(): void {
    if (this.stopped) return
    if (this.running) { this.again = true; return }
    this.running = this.drain().finally(() => {
      this.running = null
      if (this.again && !this.stopped) { this.again = false; this.kick() }
    })
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    await this.running
  }

  private async spaceOk(): Promise<boolean> {
    // A pause from a failed write is lifted here too: the next pass tries again (and pauses again if still failing).
    if (this.opts.minFreeDiskBytes <= 0) { this.counters.paused = null; return true }
    const s = await statfs(this.outbox.dir)
    const free = Number(s.bavail) * Number(s.bsize)
    if (free < this.opts.minFreeDiskBytes) {
      const reason = `spool disk low: ${free} bytes free, below limits.minFreeDiskBytes ${this.opts.minFreeDiskBytes}; free space on ${this.outbox.dir}`
      if (this.counters.paused !== reason) { this.outbox.recordEvent('pipeline', reason); this.log.warn({ free }, reason) }
      this.counters.paused = reason
      return false
    }
    this.counters.paused = null
    return true
  }

  /** One batch of spooled record inputs, if any; yields afterwards so sources and uploads run. True when it did work. */
  private async recordBatch(): Promise<boolean> {
    if (!this.engine) return false
    const inputs = this.records.pendingInputs(RECORD_BATCH)
    if (inputs.length === 0) return false
    // A pooled engine (pooledRecordEngine) stages the batch on worker threads first; processRecords then settles it.
    await this.engine.prepare?.(inputs)
    if (this.stopped) return false
    const n = this.processRecords(inputs)
    if (n.queued > 0) this.opts.onQueued?.()
    await new Promise((r) => setImmediate(r))
    return true
  }

  /**
   * One batch of record inputs through the record stage and into the outbox in one transaction (the inputs go in
   * the same transaction, so a crash redoes the whole batch: the stage is deterministic).
   */
  processRecords(inputs: readonly SpooledInput[]): { queued: number; held: number; duplicates: number } {
    const results: Array<{ input: SpooledInput; outputs: RecordOutput[] }> = []
    for (const input of inputs) {
      const outputs = stageInput(input, this.engine!)
      if (outputs.length === 0) this.counters.recordInputsIgnored++
      results.push({ input, outputs })
    }
    const n = this.records.settle(results)
    this.counters.recordsQueued += n.queued
    this.counters.recordsHeld += n.held
    if (n.held > 0) {
      // One event per source and batch, in one transaction: an event per held record would be a commit (an fsync)
      // each, and the status lists every held record with its reasons anyway. Reasons name fields, never values.
      const bySource = new Map<string, { count: number; first: string }>()
      for (const { input, outputs } of results) {
        for (const o of outputs) {
          if (o.kind !== 'held') continue
          const e = bySource.get(input.source)
          if (e) e.count++
          else bySource.set(input.source, { count: 1, first: o.summary })
        }
      }
      this.outbox.db.transaction(() => {
        for (const [source, e] of bySource) this.outbox.recordEvent('pipeline', `held ${e.count} record(s) from ${source}${e.count > 1 ? ', the first' : ''}: ${e.first} (all with reasons in the status)`)
      })()
    }
    return n
  }

  private async drain(): Promise<void> {
    this.outbox.adoptSpooled()
    for (;;) {
      if (this.stopped || !(await this.spaceOk())) return
      // Records and images take turns, a batch each, so a million spooled messages never hold up a study.
      const recordWork = await this.recordBatch()
      if (this.stopped) return
      const rows = this.outbox.pending(this.opts.concurrency * 4).filter((r) => !this.inFlight.has(r.id))
      if (rows.length === 0) {
        if (recordWork) continue
        return
      }
      let next = 0
      let queued = 0
      const worker = async () => {
        while (next < rows.length && !this.stopped) {
          const row = rows[next++]!
          this.inFlight.add(row.id)
          try {
            if (await this.processOne(row)) queued++
          } catch (e) {
            // The spool cannot be written: leave the object received, say why, and let the next poll retry.
            const msg = `de-identifying ${row.id} could not write to the spool: ${(e as Error).message}`
            this.outbox.recordEvent('pipeline', msg)
            this.log.error({ id: row.id, err: (e as Error).message }, msg)
            if (!this.stopped) this.counters.paused = msg
            return
          } finally {
            this.inFlight.delete(row.id)
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, rows.length) }, worker))
      if (queued > 0) this.opts.onQueued?.()
      if (this.counters.paused) return
    }
  }

  /** True when the object was queued for upload. */
  private async processOne(row: OutboxRow): Promise<boolean> {
    const input = this.outbox.incomingPath(row.id)
    const out = await deidentifyObject(this.outbox.dir, row.id, input, this.settings)
    if (out.kind === 'clean') {
      this.outbox.markDeidentified(row.id, out)
      this.outbox.enqueue(row.id)
      this.counters.clean++
    } else {
      this.outbox.markQuarantined(row.id, out.reason)
      this.outbox.recordEvent('pipeline', `quarantined ${row.id}: ${out.reason}`)
      this.log.warn({ id: row.id, dir: out.dir }, 'quarantined: verification or reading failed; never uploaded')
      this.counters.quarantined++
    }
    // The input's work is recorded; only now may it go (a crash before this leaves a file recovery removes).
    await rm(input, { force: true })
    await rm(join(this.outbox.incoming, `${row.id}.json`), { force: true })
    return out.kind === 'clean'
  }
}
