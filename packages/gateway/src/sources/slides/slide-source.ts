/**
 * @module Slide source: a folder where slide scanners write (SVS, NDPI, tiled TIFF/BigTIFF files; DICOM WSI
 * folders, one folder of instances per slide). Each slide goes, one at a time:
 *
 *   settled (file, or every file of its folder, unchanged for `settleSeconds`) → taken (copied into the spool,
 *   hashed, fsynced; row and "taken" record in one transaction) → de-identified and verified (deidentify-input.ts)
 *   → uploaded to the hub with the tus client (resumable: the upload URL is remembered per SHA-256, so a restart
 *   continues from the hub's offset) → confirmed, or failed with the hub's reason; or quarantined with a reason.
 *
 * Slides are 0.3–1.2 GB: every step streams (copy, hash, de-identification, upload in chunks), nothing holds a
 * slide in memory. Polling, not fs.watch, as for the folder source: network shares drop watch events.
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { mkdir, open, readFile, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { newId, type Logger, silentLogger } from '@kura/core'
import type { SlideSourceConfig } from '../../config/config.ts'
import type { Outbox } from '../../outbox/index.ts'
import type { DeidSettings } from '../../pipeline/index.ts'
import { TusClient } from '../../upload/tus-client.ts'
import { deidentifyDicomSlide, deidentifySlideFile, type SlideDeidOutcome } from './deidentify-input.ts'
import { findSlides, type FoundSlide } from './find-slides.ts'
import { SlideRows, type SlideRow } from './slide-rows.ts'
import { copySettled } from '../copy-settled.ts'

export interface SlideSourceOptions {
  /** The hub, the token file and the collection slides go to. */
  hub: { url: string; tokenFile: string; collection: string }
  deid: DeidSettings
  chunkBytes?: number
  /** The gateway's bandwidth cap (shared with the DICOM uploader). */
  pace?: (n: number) => Promise<void>
  pollMs?: number
  /** Upload back-off base (ms). */
  backoffMs?: number
  log?: Logger
  /** Pause taking (e.g. spool disk low). */
  paused?: () => string | null
}

interface Seen {
  size: number
  mtimeMs: number
  count: number
  since: number
}

/** What the de-identification left for the uploader, beside the clean file. */
interface CleanMeta {
  uploadKind: 'slide' | 'slide-dicom'
  study: string | null
  count: number
  summary: string
}

export class SlideSource {
  readonly name: string
  taken = 0
  lastError: string | null = null
  /** Slides the hub confirmed since start, and bytes of PATCH bodies it accepted. */
  uploaded = 0
  private readonly rows: SlideRows
  private readonly log: Logger
  private readonly seen = new Map<string, Seen>()
  private readonly tus: TusClient
  private readonly abort = new AbortController()
  private readonly incoming: string
  private readonly clean: string
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private stopped = true

  constructor(private readonly cfg: SlideSourceConfig, private readonly outbox: Outbox, private readonly o: SlideSourceOptions) {
    this.name = `slides:${cfg.path}`
    this.rows = new SlideRows(outbox)
    this.log = o.log ?? silentLogger
    // Each source its own folders, so one source's recovery never touches another's copy in progress.
    const own = join(outbox.dir, 'slides', createHash('sha256').update(this.name).digest('hex').slice(0, 12))
    this.incoming = join(own, 'incoming')
    this.clean = join(own, 'clean')
    this.tus = new TusClient({ hub: o.hub.url, token: () => this.token(), pace: o.pace, signal: this.abort.signal })
  }

  get sentBytes(): number {
    return this.tus.sentBytes
  }

  /** Uploads that continued from the hub's offset after an interruption. */
  get resumes(): number {
    return this.tus.resumes
  }

  private token(): string {
    return readTokenFile(this.o.hub.tokenFile)
  }

  /** Recovers the spool's slide folders, then polls. */
  async start(): Promise<void> {
    await mkdir(this.incoming, { recursive: true })
    await mkdir(this.clean, { recursive: true })
    this.recover()
    this.stopped = false
    const poll = this.o.pollMs ?? Math.max(250, Math.min(2000, this.cfg.settleSeconds * 500))
    this.timer = setInterval(() => this.kick(), poll)
    this.timer.unref()
    this.kick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.abort.abort()
    if (this.timer) clearInterval(this.timer)
    await this.running
  }

  /** Look for work now; a pass in flight runs once more afterwards. */
  kick(): void {
    if (this.stopped) return
    if (this.running) { this.again = true; return }
    this.running = this.pass().catch((e) => {
      this.lastError = (e as Error).message
      this.outbox.recordEvent(this.name, this.lastError)
      this.log.error({ source: this.name, err: this.lastError }, 'slide source pass failed')
    }).finally(() => {
      this.running = null
      if (this.again && !this.stopped) { this.again = false; this.kick() }
    })
  }

  /** Resolves once a pass has run to its end with nothing left to do right now (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running
  }

  private async pass(): Promise<void> {
    await this.takeSettled()
    for (const r of this.rows.inState(this.name, ['received'])) {
      if (this.stopped) return
      await this.deidentify(r)
    }
    for (let r = this.rows.claim(this.name); r && !this.stopped; r = this.rows.claim(this.name)) await this.upload(r)
  }

  /** Puts the spool's slide files and rows back in agreement: only ever redoes work. */
  private recover(): void {
    const requeued = this.rows.requeueUploading(this.name)
    const known = new Set(this.rows.inState(this.name, ['received'], 100_000).map((r) => r.id))
    let removed = 0
    // A copy that never got its row (crash between copy and commit) was never taken: it is taken again. A copy
    // whose row moved on (crash before its removal) is done with.
    for (const n of readdirSync(this.incoming)) {
      if (n.endsWith('.part') || !known.has(n)) { rmSyncQuiet(join(this.incoming, n)); removed++ }
    }
    for (const r of this.rows.inState(this.name, ['received'], 100_000)) {
      if (existsSync(join(this.outbox.quarantine, r.id, 'reason.json'))) this.rows.quarantine(r.id, 'quarantined before an interrupted run; see reason.json')
      else if (!existsSync(join(this.incoming, r.id))) this.rows.fail(r.id, 'lost', 'the taken copy of the slide is missing from the spool; drop the slide into the folder again', ['received'])
    }
    for (const r of this.rows.inState(this.name, ['queued', 'retry'], 100_000)) {
      if (!existsSync(this.cleanFile(r.id))) this.rows.fail(r.id, 'lost', 'the de-identified slide is missing from the spool; drop the slide into the folder again', ['queued', 'retry'])
    }
    // Clean files of slides no longer waiting (crash between confirm and removal), and half-written ones.
    const waiting = new Set(this.rows.inState(this.name, ['received', 'queued', 'retry', 'uploading'], 100_000).map((r) => r.id))
    for (const n of readdirSync(this.clean)) {
      const id = n.split('.')[0]!
      if (!waiting.has(id) || n.endsWith('.tmp')) { rmSyncQuiet(join(this.clean, n)); removed++ }
    }
    if (requeued + removed > 0) this.outbox.recordEvent(this.name, `recovered after restart: ${requeued} slide uploads back in the queue, ${removed} partial files removed`)
  }

  private cleanFile(id: string): string {
    return join(this.clean, `${id}.bin`)
  }

  // ---- take ----

  private async takeSettled(): Promise<void> {
    const now = Date.now()
    const settleMs = this.cfg.settleSeconds * 1000
    const present = new Set<string>()
    for (const s of await findSlides(this.cfg.path)) {
      if (this.stopped) return
      present.add(s.path)
      if (this.outbox.wasTaken(s.path, s.size, s.mtimeMs)) { this.seen.delete(s.path); continue }
      const prev = this.seen.get(s.path)
      if (!prev || prev.size !== s.size || prev.mtimeMs !== s.mtimeMs || prev.count !== s.files.length) {
        this.seen.set(s.path, { size: s.size, mtimeMs: s.mtimeMs, count: s.files.length, since: now })
        if (settleMs > 0) continue
      } else if (now - prev.since < settleMs) continue
      const paused = this.o.paused?.()
      if (paused) return
      try {
        await this.take(s)
        this.seen.delete(s.path)
      } catch (e) {
        this.lastError = `taking ${s.path} failed: ${(e as Error).message}`
        this.outbox.recordEvent(this.name, this.lastError)
        this.log.warn({ source: this.name, path: s.path, err: (e as Error).message }, 'taking a slide failed; will try again')
      }
    }
    for (const p of this.seen.keys()) if (!present.has(p)) this.seen.delete(p)
  }

  /** Copies the slide into `slides/incoming/<id>/` (hashed, fsynced, renamed into place), then records it as taken. */
  private async take(s: FoundSlide): Promise<void> {
    const id = newId()
    const part = join(this.incoming, `${id}.part`)
    await mkdir(part, { recursive: true })
    try {
      // One hash over the slide: each file's hash in order (a folder's identity does not depend on file names).
      const whole = createHash('sha256')
      for (const [i, f] of s.files.entries()) {
        const sha = (await copySettled(f.path, join(part, s.kind === 'file' ? 'slide' : `${String(i).padStart(5, '0')}.dcm`), f.size, f.mtimeMs)).sha256
        whole.update(`${sha}\n`)
      }
      await fsyncDir(part)
      await rename(part, join(this.incoming, id))
      await fsyncDir(this.incoming)
      this.rows.addTaken({ id, source: this.name, path: s.path, bytes: s.size, mtimeMs: s.mtimeMs, sha256: whole.digest('hex') })
    } catch (e) {
      await rm(part, { recursive: true, force: true })
      await rm(join(this.incoming, id), { recursive: true, force: true })
      throw e
    }
    this.taken++
    this.log.info({ source: this.name, id, path: s.path, kind: s.kind, bytes: s.size }, 'slide taken')
    if (this.cfg.deleteAfterTake) {
      // Only the files taken: a folder may hold other slides' folders, or files that are not slides.
      for (const f of s.files) await rm(f.path, { force: true })
      if (s.kind === 'dicom-folder') await rmdir(s.path).catch(() => {})
    }
  }

  // ---- de-identify ----

  private async deidentify(r: SlideRow): Promise<void> {
    const dir = join(this.incoming, r.id)
    const files = (await readdir(dir)).sort()
    const out = this.cleanFile(r.id)
    let result: SlideDeidOutcome
    if (files.length === 1 && files[0] === 'slide') result = await deidentifySlideFile(join(dir, 'slide'), out, this.o.deid)
    else result = await deidentifyDicomSlide(files.map((f) => join(dir, f)), join(this.clean, `${r.id}.work`), out, this.o.deid)
    if (result.kind === 'quarantined') {
      const q = join(this.outbox.quarantine, r.id)
      await mkdir(q, { recursive: true })
      const report = { id: r.id, source: this.name, reason: result.reason, findings: result.findings, policy: { id: this.o.deid.policy.id, version: this.o.deid.policy.version }, collection: this.o.deid.collection, at: new Date().toISOString() }
      // The taken copy stays on site beside the reason, for an operator to look at; it is never uploaded.
      await rename(dir, join(q, 'source')).catch(() => {})
      await writeFile(join(q, 'reason.json'), JSON.stringify(report, null, 2) + '\n', { mode: 0o600 })
      this.rows.quarantine(r.id, result.reason)
      this.outbox.recordEvent(this.name, `slide ${r.id} quarantined: ${result.reason}`)
      this.log.warn({ source: this.name, id: r.id, reason: result.reason }, 'slide quarantined')
      return
    }
    const meta: CleanMeta = { uploadKind: result.uploadKind, study: result.study, count: result.count, summary: result.summary }
    const fd = await open(join(this.clean, `${r.id}.json`), 'w', 0o600)
    try { await fd.writeFile(JSON.stringify(meta) + '\n'); await fd.sync() } finally { await fd.close() }
    await fsyncDir(this.clean)
    this.rows.queue(r.id, { sha256: result.sha256, bytes: result.bytes, study: result.study })
    await rm(dir, { recursive: true, force: true })
    this.log.info({ source: this.name, id: r.id, summary: result.summary }, 'slide de-identified')
  }

  // ---- upload ----

  private backoff(attempts: number): number {
    return Math.min(15 * 60_000, (this.o.backoffMs ?? 5000) * 2 ** Math.min(10, Math.max(0, attempts - 1)))
  }

  private async upload(r: SlideRow): Promise<void> {
    const file = this.cleanFile(r.id)
    const sha256 = r.output_sha256!
    let meta: CleanMeta
    try {
      meta = JSON.parse(await readFile(join(this.clean, `${r.id}.json`), 'utf8')) as CleanMeta
    } catch {
      this.rows.fail(r.id, 'lost', 'the de-identified slide\'s description is missing from the spool; drop the slide into the folder again')
      return
    }
    const metadata: Record<string, string> = { kind: meta.uploadKind, collection: this.o.hub.collection, sha256, count: String(meta.count) }
    if (meta.study) metadata.study = meta.study
    try {
      const url = await this.tus.upload({ file, length: r.output_bytes!, metadata, chunkBytes: this.o.chunkBytes ?? 32 * 1024 * 1024 }, this.outbox.uploadUrl(sha256) ?? undefined, (u) => this.outbox.rememberUpload(sha256, u))
      const result = await this.tus.result(url)
      this.outbox.forgetUpload(sha256)
      const o = result.objects[0]
      if (result.state === 'complete' && o && (o.outcome === 'stored' || o.outcome === 'duplicate')) {
        this.rows.confirm(r.id, o.outcome)
        this.uploaded++
        await rm(file, { force: true })
        await rm(join(this.clean, `${r.id}.json`), { force: true })
        this.lastError = null
        this.log.info({ source: this.name, id: r.id, outcome: o.outcome }, 'slide delivered')
        return
      }
      const reason = o?.reason ?? result.reason ?? `the hub answered ${result.state} without an outcome`
      this.rows.fail(r.id, o?.outcome ?? 'failed', reason)
      this.outbox.recordEvent(this.name, `hub refused slide ${r.id}: ${reason}`)
    } catch (e) {
      const code = (e as { code?: string }).code ?? ''
      const msg = (e as Error).message
      if (this.stopped || this.abort.signal.aborted) { this.rows.release(r.id); return }
      if (code === 'GATEWAY_UPLOAD_AUTH' || code === 'GATEWAY_UPLOAD_TOKEN_FILE') this.rows.release(r.id, Date.now() + 30_000)
      else this.rows.retry(r.id, msg, Date.now() + this.backoff(r.attempts))
      // A failed upload (hub said 410 or the result says failed) is created anew next time.
      if (code === 'GATEWAY_UPLOAD_HTTP') this.outbox.forgetUpload(sha256)
      this.lastError = msg
      this.outbox.recordEvent(this.name, `slide ${r.id}: ${msg}`)
      this.log.warn({ source: this.name, id: r.id, err: msg }, 'slide upload failed; will retry')
    }
  }
}

function readTokenFile(path: string): string {
  // Read per request: the operator may replace the token while the gateway runs.
  const t = readFileSyncSafe(path).trim()
  if (!t) throw Object.assign(new Error(`The token file ${path} cannot be read or is empty. Put the hub token (kura_...) in it; slide uploads resume when it is readable.`), { code: 'GATEWAY_UPLOAD_TOKEN_FILE' })
  return t
}

function readFileSyncSafe(path: string): string {
  try { return readFileSync(path, 'utf8') } catch { return '' }
}

function rmSyncQuiet(path: string): void {
  rmSync(path, { recursive: true, force: true })
}

async function fsyncDir(path: string): Promise<void> {
  const d = await open(path, 'r')
  try { await d.sync() } finally { await d.close() }
}
