/**
 * @module The pipeline: takes every object the outbox holds as `received` (DICOM receiver, watched folders, and
 * whatever later sources spool), de-identifies and verifies it, and queues the clean output by series for upload.
 *
 * Clinical record inputs (vendor export rows spooled into the outbox's `record_inputs`; SS-MIX2 messages handed
 * over in memory by `receivedRecords`, their files taken when settled) go through the record stage in batches, each
 * staged while the one before it is settled in one transaction.
 *
 * Objects go through in batches (up to OBJECT_BATCH): each is de-identified and verified with its output left
 * unflushed, then one flush covers the batch (`publishClean`: small outputs appended to the clean journal and one
 * fdatasync; larger ones' files, their renames, one folder fsync), then one outbox transaction records every
 * outcome, and only then are the inputs released. A crash anywhere in between only redoes work: rows still
 * `received` keep their inputs, and clean outputs no row records are removed by recovery. A small object received
 * over DICOM has no file of its own from its arrival to the hub's confirmation.
 *
 * It polls `incoming/` as well as being kicked by sources, so an object spooled by a source that did not tell it
 * (or before a crash) is still found. Low spool disk pauses it (the input stays where it is).
 */
import { statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { type Logger, silentLogger } from '@kura/core'
import { RecordOutbox, type NewObject, type Outbox, type OutboxRow, type RecordInput, type RecordOutput, type SpooledInput, type TakenFile } from '../outbox/index.ts'
import { deidentifyObject, publishClean, type DeidSettings, type ObjectOutcome, type UnpublishedClean } from './deidentify-object.ts'
import { stageInput, type RecordEngine } from './record-stage.ts'

/** Record inputs per transaction: large enough that commits (fsync) are not the limit, small enough to stay responsive. */
const RECORD_BATCH = 2000
/**
 * Objects per batch: one flush and one commit each. Large enough that those fixed costs are small per object, small
 * enough that a batch's outputs reach the uploader soon and a batch's synchronous work stays short.
 */
const OBJECT_BATCH = 64
/**
 * How long the first reported arrival waits for more before a pass takes them: a batch of one would pay the flush
 * and commit alone. The uploader waits longer than this for the rest of a series anyway (its linger, 1 s).
 */
const ARRIVAL_LINGER_MS = 100
/** Without arrivals or work this long, the senders have stopped for now: `onIdle` (the uploader stops lingering). */
const IDLE_MS = 200

export interface PipelineOptions {
  /** Unused (objects go in batches, one at a time on the main thread); kept for configuration compatibility. */
  concurrency?: number
  /** Pause when the spool's file system has less free space. */
  minFreeDiskBytes?: number
  pollMs?: number
  log?: Logger
  /** Called after objects were queued for upload. */
  onQueued?: () => void
  /** Called once the pipeline has had nothing to do for IDLE_MS after queuing objects. */
  onIdle?: () => void
  /** Reads, validates, de-identifies and verifies clinical records; without it record inputs wait in the spool. */
  records?: RecordEngine
}

/** Record inputs staged (or being staged) together and settled in one transaction. */
interface RecordBatch {
  inputs: SpooledInput[]
  /** How many of `inputs` are spooled (all or none). */
  spooled: number
  /** The hand-offs of fresh inputs it holds, told when their records are settled. */
  handoffs: Array<() => void>
  ready: Promise<void>
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
  private readonly opts: Required<Omit<PipelineOptions, 'onQueued' | 'onIdle' | 'log' | 'records'>> & Pick<PipelineOptions, 'onQueued' | 'onIdle'>
  private readonly engine: RecordEngine | null
  private readonly records: RecordOutbox
  private readonly log: Logger
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private stopped = false
  /** Objects a source has spooled durably and reported (`received`), recorded in one transaction at the next pass. */
  private arrivals: NewObject[] = []
  private firstArrivalAt = 0
  /** When the pipeline last queued objects or saw an arrival; the idle check's timer. */
  private lastActivity = 0
  private queuedSinceIdle = false
  private idleTimer: NodeJS.Timeout | null = null
  /** Look through `incoming/` for unrecorded objects on the next pass (at start and on every poll, not every kick). */
  private adoptDue = true
  /** Hand-offs of fresh record inputs (`receivedRecords`) not yet staged, each told when its records are settled. */
  private freshRecords: Array<{ inputs: SpooledInput[]; settled: () => void }> = []
  /** The record batch staged while the one before it is settled. */
  private nextRecords: RecordBatch | null = null

  constructor(outbox: Outbox, settings: DeidSettings, opts: PipelineOptions = {}) {
    this.outbox = outbox
    this.settings = settings
    this.opts = { concurrency: opts.concurrency ?? 2, minFreeDiskBytes: opts.minFreeDiskBytes ?? 0, pollMs: opts.pollMs ?? 1000, onQueued: opts.onQueued, onIdle: opts.onIdle }
    this.log = opts.log ?? silentLogger
    this.engine = opts.records ?? null
    this.records = new RecordOutbox(outbox)
  }

  start(): void {
    this.stopped = false
    this.adoptDue = true
    this.timer = setInterval(() => { this.adoptDue = true; this.kick() }, this.opts.pollMs)
    this.timer.unref()
    this.kick()
  }

  /** Look for work now. */
  kick(): void {
    if (this.stopped) return
    if (this.running) { this.again = true; return }
    // A pass that fails (the outbox cannot be written) pauses with the reason; the next poll tries again.
    this.running = this.drain().catch((e: unknown) => this.writeFailed('the pipeline could not write to the outbox', e)).finally(() => {
      this.running = null
      if (this.again && !this.stopped) { this.again = false; this.kick() }
    })
  }

  /**
   * A source spooled this object durably (a journal record, or a file committed in `incoming/`): its row is added
   * with the next pass's others in one transaction. Until then a crash loses nothing: recovery adopts it.
   */
  received(o: NewObject): void {
    if (this.arrivals.length === 0) this.firstArrivalAt = Date.now()
    this.lastActivity = Date.now()
    this.arrivals.push(o)
    this.kick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    if (this.idleTimer) clearTimeout(this.idleTimer)
    await this.running
    // Rows not added now are adopted from their files at the next start.
    if (this.outbox.db.open) { try { this.flushArrivals() } catch { /* see above */ } }
  }

  /** Sleeps up to `ms`, waking early once a full batch has arrived. */
  private async sleepUnlessFull(ms: number): Promise<void> {
    const end = Date.now() + ms
    while (Date.now() < end && this.arrivals.length < OBJECT_BATCH && !this.stopped) await new Promise((r) => setTimeout(r, Math.min(10, end - Date.now())))
  }

  /** Calls `onIdle` once nothing arrived or was queued for IDLE_MS after the last objects were queued. */
  private watchIdle(): void {
    if (!this.opts.onIdle || !this.queuedSinceIdle || this.idleTimer || this.stopped) return
    const check = (): void => {
      this.idleTimer = null
      if (this.stopped || !this.queuedSinceIdle) return
      const left = this.lastActivity + IDLE_MS - Date.now()
      if (left > 0 || this.running || this.arrivals.length > 0) {
        this.idleTimer = setTimeout(check, Math.max(left, 20))
        this.idleTimer.unref()
        return
      }
      this.queuedSinceIdle = false
      this.opts.onIdle?.()
    }
    this.idleTimer = setTimeout(check, Math.max(0, this.lastActivity + IDLE_MS - Date.now()))
    this.idleTimer.unref()
  }

  /** Adds the reported objects' rows; on failure (disk full) they wait for the next pass, their files stay durable. */
  private flushArrivals(): void {
    if (this.arrivals.length === 0) return
    const a = this.arrivals
    this.arrivals = []
    try {
      this.outbox.addMany(a)
    } catch (e) {
      this.arrivals = a.concat(this.arrivals)
      throw e
    }
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

  /**
   * Record inputs a source read from files it does not own and did not spool (SS-MIX2 messages: the hospital's tree
   * keeps them durably): staged from memory, and each `file` remembered as taken in the transaction that settles
   * the records. A crash before that leaves the files untaken, so the next scan reads them again; after it, their
   * records are queued. Resolves once settled (a batch that could not be settled, or was staged when the pipeline
   * stopped, waits for the next pass). A source awaits its hand-offs, a few at a time, so what waits here in memory
   * stays bounded. Without a record engine the inputs are spooled and taken at once, to wait for one.
   */
  receivedRecords(inputs: ReadonlyArray<RecordInput & { file: TakenFile }>): Promise<void> {
    if (!this.engine) {
      try { this.records.addInputs(inputs, { taken: inputs.map((i) => i.file) }) } catch (e) { return Promise.reject(e) }
      return Promise.resolve()
    }
    const receivedAt = Date.now()
    // Built field by field, not spread: one object shape for every input (a spread copies whatever a source added).
    const fresh = inputs.map((i): SpooledInput => ({ id: null, source: i.source, ref: i.ref, format: i.format, raw: typeof i.raw === 'string' ? Buffer.from(i.raw, 'utf8') : i.raw, receivedAt, file: i.file }))
    return new Promise((settled) => {
      this.freshRecords.push({ inputs: fresh, settled })
      this.kick()
    })
  }

  /**
   * The next record batch: spooled inputs first (a backlog, vendor export rows), after the `skip` oldest (the batch
   * being settled), else hand-offs of fresh ones up to RECORD_BATCH. A pooled engine starts staging it on its worker
   * threads at once.
   */
  private takeRecordBatch(skip: number): RecordBatch | null {
    const inputs = this.records.pendingInputs(RECORD_BATCH, skip)
    const spooled = inputs.length
    const handoffs: RecordBatch['handoffs'] = []
    while (spooled === 0 && this.freshRecords.length > 0 && (inputs.length === 0 || inputs.length + this.freshRecords[0]!.inputs.length <= RECORD_BATCH)) {
      const h = this.freshRecords.shift()!
      for (const i of h.inputs) inputs.push(i)
      handoffs.push(h.settled)
    }
    if (inputs.length === 0) return null
    return { inputs, spooled, handoffs, ready: this.engine!.prepare?.(inputs) ?? Promise.resolve() }
  }

  /** Fresh inputs of batches not settled go back to the front of the queue, in order (spooled ones wait in the spool). */
  private requeueRecords(batches: ReadonlyArray<RecordBatch | null>): void {
    const back: typeof this.freshRecords = []
    for (const b of batches) {
      if (b === null || b.handoffs.length === 0) continue
      back.push({ inputs: b.inputs, settled: () => { for (const h of b.handoffs) h() } })
    }
    this.freshRecords = back.concat(this.freshRecords)
  }

  /**
   * One batch of record inputs, if any, settled while the next is staged (on the worker threads of a pooled engine);
   * yields afterwards so sources and uploads run. True when it did work.
   */
  private async recordBatch(): Promise<boolean> {
    if (!this.engine) return false
    const batch = this.nextRecords ?? this.takeRecordBatch(0)
    this.nextRecords = null
    if (batch === null) return false
    await batch.ready
    if (this.stopped) {
      this.requeueRecords([batch])
      return false
    }
    this.nextRecords = this.takeRecordBatch(batch.spooled)
    let n: { queued: number }
    try {
      n = this.processRecords(batch.inputs)
    } catch (e) {
      // Nothing of the batch is recorded: its fresh inputs (and the next batch's, staged after it) wait for the next pass.
      this.requeueRecords([batch, this.nextRecords])
      this.nextRecords = null
      throw e
    }
    for (const h of batch.handoffs) h()
    if (n.queued > 0) this.opts.onQueued?.()
    await new Promise((r) => setImmediate(r))
    return true
  }

  /**
   * One batch of record inputs through the record stage and into the outbox in one transaction (spooled inputs are
   * removed, and the files of fresh ones taken, in the same transaction, so a crash redoes the whole batch: the
   * stage is deterministic).
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
    if (this.adoptDue) {
      this.adoptDue = false
      this.outbox.adoptSpooled()
    }
    for (;;) {
      if (this.stopped || !(await this.spaceOk())) return
      // Records and images take turns, a batch each, so a million spooled messages never hold up a study.
      const recordWork = await this.recordBatch()
      if (this.stopped) return
      const linger = this.arrivals.length > 0 && this.arrivals.length < OBJECT_BATCH ? this.firstArrivalAt + ARRIVAL_LINGER_MS - Date.now() : 0
      if (linger > 0) await this.sleepUnlessFull(linger)
      if (this.stopped) return
      // Rows already waiting (a backlog, or adopted after a restart) go first. Fresh arrivals are processed from
      // memory and their rows added in the transaction that records their outcomes: one commit (a WAL fsync on
      // the main thread) per batch instead of two.
      const waiting = this.outbox.pending(OBJECT_BATCH)
      const fresh = waiting.length === 0 ? this.arrivals.splice(0, OBJECT_BATCH) : []
      if (waiting.length === 0 && fresh.length === 0) {
        if (recordWork) continue
        this.watchIdle()
        return
      }
      const queued = await this.processBatch(fresh.length > 0 ? fresh : waiting, fresh)
      if (queued > 0) {
        this.lastActivity = Date.now()
        this.queuedSinceIdle = true
        this.opts.onQueued?.()
      }
      if (this.counters.paused) return
    }
  }

  /**
   * One batch of received objects through to recorded outcomes; returns how many were queued for upload. `fresh`
   * are arrivals without a row yet: added in the same transaction, or, if the batch fails, as received.
   */
  private async processBatch(rows: ReadonlyArray<Pick<OutboxRow, 'id' | 'source'>>, fresh: NewObject[] = []): Promise<number> {
    const done: Array<{ row: Pick<OutboxRow, 'id' | 'source'>; out: ObjectOutcome }> = []
    const clean: UnpublishedClean[] = []
    for (const row of rows) {
      if (this.stopped) break
      // Let I/O in between objects: the DICOM source's next PDU and C-STORE-RSP should not wait for a whole batch
      // (a sender on one association waits for each RSP; an object is about 1 ms of synchronous work here).
      if (done.length > 0) await new Promise((r) => setImmediate(r))
      try {
        const out = await deidentifyObject(this.outbox.dir, row.id, this.outbox.input(row.id), this.settings, { publish: false })
        done.push({ row, out })
        if (out.kind === 'clean') clean.push(out as UnpublishedClean)
      } catch (e) {
        // The spool cannot be written: leave this object (and the rest) received, say why, let the next poll retry.
        // What is done is recorded below (fresh arrivals not reached get their rows as received).
        this.spoolWriteFailed(row.id, e)
        break
      }
    }
    const held: string[] = []
    try {
      // One flush for the batch, before anything of it is recorded: a recorded clean object always has its file.
      // Each SHA is held from before its rename until recorded, and a removal of an older copy in flight is awaited.
      await publishClean(this.outbox.clean, clean, async (sha) => {
        this.outbox.holdClean(sha)
        held.push(sha)
        await this.outbox.cleanRemoval(sha)
      }, this.outbox.cleanJournal)
      // One transaction for every outcome of the batch (and the rows of fresh arrivals).
      this.outbox.db.transaction(() => {
        for (const o of fresh) this.outbox.add(o)
        for (const { row, out } of done) {
          if (out.kind === 'clean') {
            this.outbox.markDeidentified(row.id, out)
            this.outbox.enqueue(row.id)
          } else {
            this.outbox.markQuarantined(row.id, out.reason)
            this.outbox.recordEvent('pipeline', `quarantined ${row.id}: ${out.reason}`)
          }
        }
      })()
    } catch (e) {
      // Nothing of the batch is recorded: every object stays received with its input, and is done again later.
      this.spoolWriteFailed(`a batch of ${done.length}`, e)
      this.keepReceived(fresh)
      return 0
    } finally {
      for (const sha of held) this.outbox.releaseClean(sha)
    }
    let queued = 0
    for (const { row, out } of done) {
      if (out.kind === 'clean') { queued++; this.counters.clean++ }
      else {
        this.log.warn({ id: row.id, dir: out.dir }, 'quarantined: verification or reading failed; never uploaded')
        this.counters.quarantined++
      }
    }
    // The inputs' work is recorded; only now may they go (a crash before this leaves files and journal records
    // recovery removes). A journal record is released (its segment goes once all of its records are); a file is
    // unlinked, not rm'd (no lstat each), off the main thread; a quarantined input was moved already (ENOENT).
    // The DICOM source writes no sidecar.
    // A removal that fails is only a leftover: the row is past `received`, so recovery removes the file.
    const gone = (p: string) => this.outbox.removeLater(p).catch((e: Error) => this.log.warn({ path: p, err: e.message }, 'could not remove a processed input'))
    const files: Array<Promise<void>> = []
    for (const { row } of done) {
      if (this.outbox.journal.has(row.id)) { this.outbox.journal.release(row.id); continue }
      files.push(gone(this.outbox.incomingPath(row.id)))
      if (row.source !== 'dimse') files.push(gone(join(this.outbox.incoming, `${row.id}.json`)))
    }
    await Promise.all(files)
    return queued
  }

  /** Fresh arrivals of a batch that failed: back to the arrivals, whose rows are added (as received) at once if possible. */
  private keepReceived(fresh: NewObject[]): void {
    if (fresh.length === 0) return
    this.arrivals = fresh.concat(this.arrivals)
    try { this.flushArrivals() } catch { /* the outbox cannot be written: the next pass tries again */ }
  }

  private spoolWriteFailed(what: string, e: unknown): void {
    this.writeFailed(`de-identifying ${what} could not write to the spool`, e)
  }

  private writeFailed(what: string, e: unknown): void {
    const msg = `${what}: ${(e as Error).message}`
    try { this.outbox.recordEvent('pipeline', msg) } catch { /* the outbox itself cannot be written: the log and status say it */ }
    this.log.error({ what, err: (e as Error).message }, msg)
    if (!this.stopped) this.counters.paused = msg
  }
}
