/**
 * @module The pipeline: takes every object the outbox holds as `received` (DICOM receiver, watched folders, and
 * whatever later sources spool), de-identifies and verifies it, and queues the clean output by series for upload.
 *
 * It polls `incoming/` as well as being kicked by sources, so an object spooled by a source that did not tell it
 * (or before a crash) is still found. Low spool disk pauses it (the input stays where it is).
 */
import { rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { type Logger, silentLogger } from '@kura/core'
import type { Outbox, OutboxRow } from '../outbox/index.ts'
import { deidentifyObject, type DeidSettings } from './deidentify-object.ts'

export interface PipelineOptions {
  concurrency?: number
  /** Pause when the spool's file system has less free space. */
  minFreeDiskBytes?: number
  pollMs?: number
  log?: Logger
  /** Called after objects were queued for upload. */
  onQueued?: () => void
}

export interface PipelineCounters {
  clean: number
  quarantined: number
  /** Why the pipeline is paused, or null. */
  paused: string | null
}

export class Pipeline {
  readonly counters: PipelineCounters = { clean: 0, quarantined: 0, paused: null }
  private readonly outbox: Outbox
  private readonly settings: DeidSettings
  private readonly opts: Required<Omit<PipelineOptions, 'onQueued' | 'log'>> & Pick<PipelineOptions, 'onQueued'>
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

  private async drain(): Promise<void> {
    this.outbox.adoptSpooled()
    for (;;) {
      if (this.stopped || !(await this.spaceOk())) return
      const rows = this.outbox.pending(this.opts.concurrency * 4).filter((r) => !this.inFlight.has(r.id))
      if (rows.length === 0) return
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
