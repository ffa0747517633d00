/**
 * @module Vendor export folder source: a departmental system (an endoscopy, pathology or radiology system) drops
 * its exports (CSV/TSV/XML, in its own layout, codes and encoding) into a watched folder; each settled file is
 * read as a stream of rows through the configured declarative adapter (@kura/records readVendorExport), and each
 * record (or held rows with their reasons) is spooled into the outbox as a record input.
 *
 * Progress through a file is recorded with each batch, in the same transaction, so a restart mid-file resumes
 * after the rows already spooled; a finished file is remembered as taken (path, size, mtime, SHA-256) and never
 * read again. A file that changes while it is read is read again from its start later (records already queued
 * are recognised by their key and not queued twice). The hospital's files are never changed.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { type Logger, silentLogger } from '@kura/core'
import { loadAdapter, readVendorExport, type Adapter } from '@kura/records'
import type { VendorExportSourceConfig } from '../../config/index.ts'
import { RecordOutbox, type Outbox, type RecordInput } from '../../outbox/index.ts'

export interface VendorExportSourceOptions {
  log?: Logger
  pollMs?: number
  onTaken?: () => void
  paused?: () => string | null
}

const BATCH = 256
const SKIP = /(^\.|\.part$|\.tmp$|\.partial$)/i

export class VendorExportSource {
  readonly name: string
  readonly adapter: Adapter
  /** Files finished, and records/held rows spooled. */
  files = 0
  items = 0
  lastError: string | null = null
  private readonly cfg: VendorExportSourceConfig
  private readonly outbox: Outbox
  private readonly records: RecordOutbox
  private readonly opts: VendorExportSourceOptions
  private readonly log: Logger
  private readonly seen = new Map<string, { size: number; mtimeMs: number; since: number }>()
  private timer: NodeJS.Timeout | null = null
  private scanning: Promise<void> | null = null
  private stopped = false

  /** Loads the adapter now: a broken adapter file stops the gateway's start with the adapter's own problem list. */
  constructor(cfg: VendorExportSourceConfig, outbox: Outbox, opts: VendorExportSourceOptions = {}) {
    this.cfg = cfg
    this.outbox = outbox
    this.records = new RecordOutbox(outbox)
    this.opts = opts
    this.log = opts.log ?? silentLogger
    this.adapter = loadAdapter(cfg.adapter)
    this.name = `export:${this.adapter.name}:${cfg.path}`
  }

  start(): void {
    this.stopped = false
    const poll = this.opts.pollMs ?? Math.min(this.cfg.rescanSeconds * 1000, Math.max(250, this.cfg.settleSeconds * 500))
    this.timer = setInterval(() => void this.scan(), poll)
    this.timer.unref()
    void this.scan()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    await this.scanning
  }

  scan(): Promise<void> {
    this.scanning ??= this.scanOnce().catch((e) => {
      this.lastError = `reading the export folder ${this.cfg.path} failed: ${(e as Error).message}`
      this.outbox.recordEvent(this.name, this.lastError)
      this.log.error({ source: this.name, err: (e as Error).message }, 'export folder scan failed; will try again')
    }).finally(() => { this.scanning = null })
    return this.scanning
  }

  private async scanOnce(): Promise<void> {
    let names: string[]
    try { names = (await readdir(this.cfg.path)).filter((n) => !SKIP.test(n)).sort() } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return
      throw e
    }
    const now = Date.now()
    const settleMs = this.cfg.settleSeconds * 1000
    for (const n of names) {
      if (this.stopped || this.opts.paused?.()) return
      const path = join(this.cfg.path, n)
      let st
      try { st = await stat(path) } catch { continue }
      if (!st.isFile() || this.records.wasTaken(path, st.size, st.mtimeMs)) { this.seen.delete(path); continue }
      const prev = this.seen.get(path)
      if (!prev || prev.size !== st.size || prev.mtimeMs !== st.mtimeMs) {
        this.seen.set(path, { size: st.size, mtimeMs: st.mtimeMs, since: now })
        if (settleMs > 0) continue
      } else if (now - prev.since < settleMs) continue
      try {
        await this.readFile(path, st.size, st.mtimeMs)
        this.seen.delete(path)
      } catch (e) {
        this.lastError = `reading ${n} failed: ${(e as Error).message}`
        this.outbox.recordEvent(this.name, this.lastError)
        this.log.warn({ source: this.name, file: n, err: (e as Error).message }, 'reading an export failed; will try again')
      }
    }
  }

  /** Streams one export file through the adapter into the outbox, resuming after the rows already spooled. */
  private async readFile(path: string, size: number, mtimeMs: number): Promise<void> {
    const skip = this.records.exportProgress(path, size, mtimeMs)
    const hash = createHash('sha256')
    let bytes = 0
    async function* hashed(): AsyncGenerator<Uint8Array> {
      for await (const c of createReadStream(path, { highWaterMark: 64 * 1024 })) {
        hash.update(c as Buffer)
        bytes += (c as Buffer).length
        yield c as Buffer
      }
    }
    let n = 0
    let batch: RecordInput[] = []
    const flush = () => {
      if (batch.length === 0) return
      this.records.addInputs(batch, { progress: { path, size, mtimeMs, rowsDone: n } })
      this.items += batch.length
      batch = []
      this.opts.onTaken?.()
    }
    for await (const item of readVendorExport(hashed(), this.adapter, { sourceName: basename(path) })) {
      if (this.stopped) { flush(); return }
      n++
      if (n <= skip) continue
      if ('record' in item) batch.push({ source: this.name, ref: item.record.source.ref, format: 'record', raw: JSON.stringify({ record: item.record }) })
      else batch.push({ source: this.name, ref: item.held.source.ref, format: 'record', raw: JSON.stringify({ errors: item.held.reasons, raw: item.held.raw }) })
      if (batch.length >= BATCH) flush()
    }
    const after = await stat(path)
    if (after.size !== size || after.mtimeMs !== mtimeMs || bytes !== size) {
      flush()
      throw new Error('the file changed while it was read; it will be read again once it settles')
    }
    flush()
    this.records.finishExport({ path, size, mtimeMs, sha256: hash.digest('hex') })
    this.files++
  }
}
