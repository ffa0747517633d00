/**
 * @module Watched folder source: DICOM files dropped by scanners and exports are copied into the spool once they
 * have settled (size and mtime unchanged for `settleSeconds`), so a half-written file is never taken. What was
 * taken (path, size, mtime, SHA-256) is recorded in the outbox with the object, so a restart never takes it again.
 * The hospital's file is left alone unless `deleteAfterTake` is set.
 *
 * Polling, not fs.watch: watch events are unreliable on network shares, where export folders usually live.
 */
import { open, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { newId, type Logger, silentLogger } from '@kura/core'
import type { FolderSourceConfig } from '../../config/index.ts'
import type { Outbox, SpoolSidecar } from '../../outbox/index.ts'
import { copySettled } from '../copy-settled.ts'

export interface FolderSourceOptions {
  pollMs?: number
  log?: Logger
  /** Called after a file was taken into the spool. */
  onTaken?: () => void
  /** Pause taking (e.g. spool disk low); checked before each file. */
  paused?: () => string | null
}

interface Seen {
  size: number
  mtimeMs: number
  /** When size+mtime were first seen as they are now. */
  since: number
}

const TAKE_CONCURRENCY = 4
const SKIP = /(^\.|\.part$|\.tmp$|^DICOMDIR$)/i

export class FolderSource {
  readonly name: string
  taken = 0
  lastError: string | null = null
  private readonly cfg: FolderSourceConfig
  private readonly outbox: Outbox
  private readonly opts: FolderSourceOptions
  private readonly log: Logger
  private readonly seen = new Map<string, Seen>()
  private timer: NodeJS.Timeout | null = null
  private scanning: Promise<void> | null = null
  private stopped = false

  constructor(cfg: FolderSourceConfig, outbox: Outbox, opts: FolderSourceOptions = {}) {
    this.cfg = cfg
    this.outbox = outbox
    this.opts = opts
    this.log = opts.log ?? silentLogger
    this.name = `folder:${cfg.path}`
  }

  start(): void {
    this.stopped = false
    const poll = this.opts.pollMs ?? Math.max(250, Math.min(2000, this.cfg.settleSeconds * 500))
    this.timer = setInterval(() => void this.scan(), poll)
    this.timer.unref()
    void this.scan()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    await this.scanning
  }

  /** One pass over the folder; overlapping calls share the pass in flight. */
  scan(): Promise<void> {
    this.scanning ??= this.scanOnce().catch((e) => {
      this.lastError = `cannot read ${this.cfg.path}: ${(e as Error).message}`
      this.outbox.recordEvent(this.name, this.lastError)
      this.log.error({ source: this.name, err: (e as Error).message }, 'folder scan failed')
    }).finally(() => { this.scanning = null })
    return this.scanning
  }

  private async scanOnce(): Promise<void> {
    const now = Date.now()
    const present = new Set<string>()
    const settleMs = this.cfg.settleSeconds * 1000
    const ready: Array<{ path: string; size: number; mtimeMs: number }> = []
    for await (const path of walk(this.cfg.path)) {
      if (this.stopped) break
      present.add(path)
      let st
      try { st = await stat(path) } catch { continue }
      if (!st.isFile()) continue
      if (this.outbox.wasTaken(path, st.size, st.mtimeMs)) { this.seen.delete(path); continue }
      const prev = this.seen.get(path)
      if (!prev || prev.size !== st.size || prev.mtimeMs !== st.mtimeMs) {
        this.seen.set(path, { size: st.size, mtimeMs: st.mtimeMs, since: now })
        if (settleMs > 0) continue
      } else if (now - prev.since < settleMs) continue
      ready.push({ path, size: st.size, mtimeMs: st.mtimeMs })
    }
    // A few copies at once: each waits on its fsyncs, so the disk, not one file at a time, sets the pace.
    let next = 0
    const worker = async () => {
      while (next < ready.length && !this.stopped) {
        const f = ready[next++]!
        if (this.opts.paused?.()) return
        try {
          await this.take(f.path, f.size, f.mtimeMs)
          this.seen.delete(f.path)
          this.opts.onTaken?.()
        } catch (e) {
          this.lastError = `taking ${f.path} failed: ${(e as Error).message}`
          this.outbox.recordEvent(this.name, this.lastError)
          this.log.warn({ source: this.name, path: f.path, err: (e as Error).message }, 'taking a file failed; will try again')
        }
      }
    }
    await Promise.all(Array.from({ length: TAKE_CONCURRENCY }, worker))
    for (const p of this.seen.keys()) if (!present.has(p)) this.seen.delete(p)
  }

  /** Copies the file into the spool (fsync, sidecar, rename, folder fsync), then records it as taken. */
  private async take(path: string, size: number, mtimeMs: number): Promise<void> {
    const id = newId()
    const part = join(this.outbox.incoming, `${id}.part`)
    const dcm = join(this.outbox.incoming, `${id}.dcm`)
    try {
      const { sha256, bytes } = await copySettled(path, part, size, mtimeMs)
      const side: SpoolSidecar & { id: string } = { id, source: this.name, bytes, sha256, receivedAt: new Date().toISOString(), folderFile: { path, size, mtimeMs } }
      const fd = await open(join(this.outbox.incoming, `${id}.json`), 'wx', 0o600)
      try { await fd.writeFile(JSON.stringify(side, null, 1) + '\n'); await fd.sync() } finally { await fd.close() }
      await rename(part, dcm)
      const dir = await open(this.outbox.incoming, 'r')
      try { await dir.sync() } finally { await dir.close() }
      this.outbox.addTaken({ id, source: this.name, sourceRef: path, bytes, sha256 }, { path, size, mtimeMs, sha256 })
    } catch (e) {
      await rm(part, { force: true })
      await rm(join(this.outbox.incoming, `${id}.json`), { force: true })
      throw e
    }
    this.taken++
    if (this.cfg.deleteAfterTake) await rm(path, { force: true })
  }
}

async function* walk(dir: string): AsyncGenerator<string> {
  let entries
  try { entries = await readdir(dir, { withFileTypes: true }) } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return
    throw e
  }
  for (const e of entries) {
    if (SKIP.test(e.name)) continue
    const p = join(dir, e.name)
    if (e.isDirectory()) yield* walk(p)
    else if (e.isFile()) yield p
  }
}
