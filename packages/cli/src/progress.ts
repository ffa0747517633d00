/**
 * @module Progress on stderr: a redrawn bar when stderr is a terminal, otherwise a plain line
 * every few seconds, so logs captured by CI or systemd stay readable.
 */
import type { WriteStream } from 'node:tty'

export interface ProgressOptions {
  label: string
  totalFiles?: number
  totalBytes?: number
  stream?: NodeJS.WriteStream | WriteStream
  /** Plain-line interval when not a terminal. */
  intervalMs?: number
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`
  return `${(n / 1024 ** 3).toFixed(2)} GB`
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

export class Progress {
  private readonly stream: NodeJS.WriteStream
  private readonly tty: boolean
  private readonly started = Date.now()
  /** Plain lines start one interval in, so a quick run prints none; a bar draws at once. */
  private lastDraw: number
  private files = 0
  private bytes = 0
  private drawn = false

  constructor(private readonly opts: ProgressOptions) {
    this.stream = (opts.stream ?? process.stderr) as NodeJS.WriteStream
    this.tty = Boolean(this.stream.isTTY)
    this.lastDraw = this.tty ? 0 : this.started
  }

  update(files: number, bytes: number): void {
    this.files = files
    this.bytes = bytes
    const now = Date.now()
    const every = this.tty ? 100 : (this.opts.intervalMs ?? 5000)
    if (now - this.lastDraw >= every) {
      this.lastDraw = now
      this.draw()
    }
  }

  /** Seconds since start, for the final summary. */
  get elapsedMs(): number {
    return Date.now() - this.started
  }

  done(): void {
    if (this.tty && this.drawn) this.stream.write('\r\x1b[K')
  }

  line(): string {
    const secs = Math.max(0.001, (Date.now() - this.started) / 1000)
    const rate = this.files / secs
    const { totalFiles, totalBytes } = this.opts
    const files = totalFiles !== undefined ? `${this.files}/${totalFiles} files` : `${this.files} files`
    const mb = totalBytes ? `${formatBytes(this.bytes)}/${formatBytes(totalBytes)}` : formatBytes(this.bytes)
    let eta = ''
    if (totalFiles && rate > 0 && this.files < totalFiles) eta = `  ETA ${formatDuration(((totalFiles - this.files) / rate) * 1000)}`
    return `${this.opts.label}: ${files}  ${mb}  ${rate.toFixed(1)} files/s${eta}`
  }

  private draw(): void {
    if (!this.tty) {
      this.stream.write(this.line() + '\n')
      return
    }
    const { totalFiles, totalBytes } = this.opts
    const frac = totalBytes ? this.bytes / totalBytes : totalFiles ? this.files / totalFiles : 0
    const width = 24
    const full = Math.max(0, Math.min(width, Math.round(frac * width)))
    const bar = totalFiles || totalBytes ? `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ` : ''
    const cols = this.stream.columns || 100
    this.stream.write('\r\x1b[K' + (bar + this.line()).slice(0, cols - 1))
    this.drawn = true
  }
}
