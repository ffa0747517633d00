/**
 * @module SS-MIX2 tree source: reads a hospital's SS-MIX2 standardized storage in place (never changing it) and
 * hands each message file Kura maps (patient basic information ADT-00; endoscopy, radiology and specimen result
 * notices) to the pipeline as a record input. An initial scan, then periodic rescans for new and changed files.
 *
 * The messages are not copied into the outbox: the tree keeps them durably, so the pipeline stages them from memory
 * and remembers what was taken (path, size, mtime, SHA-256) in the transaction that settles their records. A crash
 * before that leaves them untaken (the next scan reads them again), and a restart never sends a file twice. A scan
 * waits while HANDOFFS_IN_FLIGHT batches are unsettled, so it never runs far ahead of the pipeline.
 *
 * The condition flag is respected as the storage rules define it: per data-type folder and order number only the
 * newest flag-1 file is read (older versions and flag-0 files are superseded; a group with no flag-1 file was
 * withdrawn and is not sent); a newer version taken later supersedes the earlier one at the hub, which keeps
 * records by identity. A file whose name does not parse is handed off anyway, so the pipeline holds it with the
 * reason. Data-type folders whose mtime has not changed since a complete pass are not listed again while the
 * gateway runs (writers add and rename files; they do not edit them in place).
 */
import { hash } from 'node:crypto'
import { close as fsClose, open as fsOpen, read as fsRead, readdir as fsReaddir, stat as fsStat } from 'node:fs'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { type Logger, silentLogger } from '@kura/core'
import { parseSsmix2FileName, timestampKey, type Ssmix2FileName } from '@kura/records'
import type { Ssmix2SourceConfig } from '../../config/index.ts'
import type { Outbox, RecordInput, TakenFile } from '../../outbox/index.ts'

/** The data types that carry a record Kura keeps; other folders are never read. */
export const SSMIX2_RECORD_TYPES: readonly string[] = ['ADT-00', 'OMG-11', 'OMG-12', 'OML-11']
const RECORD_TYPES: ReadonlySet<string> = new Set(SSMIX2_RECORD_TYPES)

export interface Ssmix2SourceOptions {
  log?: Logger
  /** Overrides rescanSeconds (tests). */
  pollMs?: number
  /** Files per hand-off (default BATCH; tests use fewer). */
  batch?: number
  paused?: () => string | null
  /** Hands read messages to the pipeline (Pipeline.receivedRecords), resolving once their records and "taken" rows are settled. */
  handOff: (inputs: Array<RecordInput & { file: TakenFile }>) => Promise<void>
}

export interface Ssmix2Counters {
  taken: number
  /** Files not sent because a newer flag-1 file of their order exists, or their flag is 0. */
  superseded: number
  /** Order groups with no flag-1 file: withdrawn. */
  withdrawn: number
  scans: number
}

/**
 * Files per hand-off, and the bytes at which a batch goes early: the pipeline settles up to 2,000 (its RECORD_BATCH)
 * per commit, an fsync with synchronous FULL; the byte cap keeps a batch of large reports small.
 */
const BATCH = 2000
const BATCH_BYTES = 8 * 1024 * 1024
/**
 * Hand-offs not yet settled while the scan reads the next batch: one settling, one staging on the pipeline's worker
 * threads, one waiting to be staged as soon as the settle is done. Bounds what the source holds ahead of the
 * pipeline (≈ 4 × BATCH messages).
 */
export const HANDOFFS_IN_FLIGHT = 3
/** Patient folders walked at once. */
const WALKERS = 8
const SKIP = /(^\.|\.part$|\.tmp$)/i

interface Candidate {
  abs: string
  rel: string
}

export class Ssmix2Source {
  readonly name: string
  readonly counters: Ssmix2Counters = { taken: 0, superseded: 0, withdrawn: 0, scans: 0 }
  lastError: string | null = null
  private readonly cfg: Ssmix2SourceConfig
  private readonly outbox: Outbox
  private readonly opts: Ssmix2SourceOptions
  private readonly log: Logger
  /** Data-type folders wholly taken at this mtime. */
  private readonly done = new Map<string, number>()
  private timer: NodeJS.Timeout | null = null
  private scanning: Promise<void> | null = null
  private stopped = false
  private batch: Array<RecordInput & { file: TakenFile }> = []
  private batchBytes = 0
  /** Hand-offs to the pipeline not yet settled, oldest first. */
  private inFlight: Array<Promise<void>> = []
  /** Files handed off and not yet settled: not read again meanwhile (not yet "taken"). */
  private readonly handedOff = new Set<string>()
  /** Resolved by stop(): a scan stops waiting for its hand-offs (the pipeline settles them, or a restart reads them again). */
  private stopping!: Promise<void>
  private stopNow!: () => void

  constructor(cfg: Ssmix2SourceConfig, outbox: Outbox, opts: Ssmix2SourceOptions) {
    this.cfg = cfg
    this.outbox = outbox
    this.opts = opts
    this.log = opts.log ?? silentLogger
    this.name = `ssmix2:${cfg.path}`
    this.armStop()
  }

  start(): void {
    if (this.stopped) this.armStop()
    this.stopped = false
    this.timer = setInterval(() => void this.scan(), this.opts.pollMs ?? this.cfg.rescanSeconds * 1000)
    this.timer.unref()
    void this.scan()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.stopNow()
    if (this.timer) clearInterval(this.timer)
    await this.scanning
  }

  /** One pass over the tree; overlapping calls share the pass in flight. */
  scan(): Promise<void> {
    this.scanning ??= this.scanOnce().then(() => { this.lastError = null }, (e) => {
      // Folders marked done may hold files of a batch that failed: list them all again next time.
      this.done.clear()
      this.lastError = `reading the SS-MIX2 tree ${this.cfg.path} failed: ${(e as Error).message}`
      this.outbox.recordEvent(this.name, this.lastError)
      this.log.error({ source: this.name, err: (e as Error).message }, 'SS-MIX2 scan failed; will try again')
    }).finally(() => { this.scanning = null })
    return this.scanning
  }

  private async scanOnce(): Promise<void> {
    const halted = () => this.halted()
    const patients = patientFolders(this.cfg.path, halted)
    // WALKERS patients at a time, each walked alone (its files are handed off in tree order). One at a time, every
    // listing and read waited for the last: on a hospital's network share, a round trip each. A failure stops every
    // walker after its current patient, and the scan fails only once all have stopped (none is left running into
    // the next scan).
    let failure: unknown = null
    const walker = async (): Promise<void> => {
      try {
        for (let p = await patients.next(); !p.done && failure === null && !halted(); p = await patients.next()) await this.patient(p.value)
      } catch (e) {
        failure ??= e
      }
    }
    await Promise.all(Array.from({ length: WALKERS }, walker))
    if (failure !== null) throw failure
    await this.flushAndWait()
    if (!halted()) this.counters.scans++
  }

  private halted(): boolean {
    return this.stopped || Boolean(this.opts.paused?.())
  }

  /** A patient's folder (`a/b/id`): each date, each record type, in order. */
  private async patient(rel: string): Promise<void> {
    const abs = join(this.cfg.path, rel)
    for (const date of await dirs(abs)) {
      for (const type of await dirs(join(abs, date))) {
        if (this.halted()) return
        if (RECORD_TYPES.has(type)) await this.typeFolder(`${rel}/${date}/${type}`)
      }
    }
  }

  /** One data-type folder: the current file of each order group, when settled and not yet taken. */
  private async typeFolder(rel: string): Promise<void> {
    const abs = join(this.cfg.path, rel)
    const st = await stat(abs)
    if (this.done.get(rel) === st.mtimeMs) return
    let names: string[]
    try { names = (await readdir(abs)).filter((n) => !SKIP.test(n)) } catch { return }
    const candidates: Candidate[] = []
    const groups = new Map<string, Array<{ n: string; f: Ssmix2FileName }>>()
    for (const n of names) {
      const parsed = parseSsmix2FileName(n)
      // Unparseable names are taken too: the pipeline holds them with the reason, so the site can fix them.
      if (!parsed.ok) { candidates.push({ abs: join(abs, n), rel: `${rel}/${n}` }); continue }
      const f = parsed.name
      const key = f.orderNumber === undefined && f.dataType !== 'ADT-00' ? `\0${n}` : (f.orderNumber ?? '')
      const g = groups.get(key)
      if (g) g.push({ n, f })
      else groups.set(key, [{ n, f }])
    }
    for (const g of groups.values()) {
      let best: { n: string; f: Ssmix2FileName } | undefined
      for (const x of g) if (x.f.flag === '1' && (!best || timestampKey(x.f.timestamp) >= timestampKey(best.f.timestamp))) best = x
      if (!best) { this.counters.withdrawn++; continue }
      this.counters.superseded += g.length - 1
      candidates.push({ abs: join(abs, best.n), rel: `${rel}/${best.n}` })
    }
    let complete = true
    const settleMs = this.cfg.settleSeconds * 1000
    for (const c of candidates) {
      let fst
      try { fst = await stat(c.abs) } catch { complete = false; continue }
      if (!fst.isFile()) continue
      if (this.handedOff.has(c.abs) || this.outbox.wasTaken(c.abs, fst.size, fst.mtimeMs)) continue
      if (Date.now() - fst.mtimeMs < settleMs) { complete = false; continue }
      let bytes: Buffer
      try { bytes = await readUpTo(c.abs, fst.size + 1) } catch (e) {
        complete = false
        this.lastError = `cannot read ${c.rel}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`
        continue
      }
      if (bytes.length !== fst.size) { complete = false; continue } // being written: next pass
      const file = { path: c.abs, size: fst.size, mtimeMs: fst.mtimeMs, sha256: hash('sha256', bytes, 'hex') }
      this.batch.push({ source: this.name, ref: c.rel, format: 'ssmix2', raw: bytes, file })
      this.batchBytes += bytes.length
      if (this.batch.length >= (this.opts.batch ?? BATCH) || this.batchBytes >= BATCH_BYTES) await this.flush()
    }
    if (complete) this.done.set(rel, st.mtimeMs)
  }

  /** Hands the batch to the pipeline, then waits while more than HANDOFFS_IN_FLIGHT are unsettled. */
  private async flush(): Promise<void> {
    if (this.batch.length === 0) return
    const inputs = this.batch
    this.batch = []
    this.batchBytes = 0
    for (const i of inputs) this.handedOff.add(i.file.path)
    const settled = this.opts.handOff(inputs).then(() => { this.counters.taken += inputs.length }).finally(() => {
      for (const i of inputs) this.handedOff.delete(i.file.path)
    })
    // Failures surface where the scan awaits the hand-off; until then nothing is unhandled.
    settled.catch(() => {})
    this.inFlight.push(settled)
    while (this.inFlight.length > HANDOFFS_IN_FLIGHT) await this.untilStopped(this.inFlight.shift()!)
  }

  /** The last batch handed off, and every hand-off of this scan settled (or the source stopped). */
  private async flushAndWait(): Promise<void> {
    await this.flush()
    while (this.inFlight.length > 0) await this.untilStopped(this.inFlight.shift()!)
  }

  private untilStopped(p: Promise<void>): Promise<void> {
    return Promise.race([p, this.stopping])
  }

  private armStop(): void {
    this.stopping = new Promise((r) => { this.stopNow = r })
  }
}

/**
 * The file's first `max` bytes (all of it, when shorter): opened, read, closed through fs's callbacks, without the
 * fstat readFile sizes its buffer with (the scan has stat'ed the file already). Asked for one byte more than the
 * stat said, a file that grew since reads longer than that size, as readFile would. One read: a regular file's read
 * returns all that was asked for unless the file ends first (were it ever short for another reason, the length
 * differs from the stat's and the scan leaves the file for its next pass), so no second read to see 0 bytes.
 * Process CPU per 1.2 KB file, best of 7 × 2,000: fs/promises readFile 43–88 µs, this (with that second read) 31–36 µs
 * (FileHandle's promises cost most of the rest).
 */
function readUpTo(path: string, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    fsOpen(path, 'r', (e, fd) => {
      if (e) return reject(e)
      const buf = Buffer.allocUnsafe(max)
      fsRead(fd, buf, 0, max, 0, (re, n) => fsClose(fd, (ce) => {
        const bad = re ?? ce
        if (bad) reject(bad)
        else resolve(buf.subarray(0, n))
      }))
    })
  })
}

/** The tree's patient folders (`a/b/id`), in order, listed as they are asked for; none once `halted`. */
async function* patientFolders(root: string, halted: () => boolean): AsyncGenerator<string> {
  for (const a of await dirs(root)) {
    for (const b of await dirs(join(root, a))) {
      for (const id of await dirs(join(root, a, b))) {
        if (halted()) return
        yield `${a}/${b}/${id}`
      }
    }
  }
}

// fs's callback forms, promisified: per call they cost the main thread less than fs/promises' (see readUpTo), and the
// walk makes several a message.
const stat = promisify(fsStat)
const readdir = promisify(fsReaddir)

async function dirs(path: string): Promise<string[]> {
  try {
    return (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort()
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return []
    throw e
  }
}
