/**
 * @module Queue workers: a loop that claims jobs whose names it has handlers for and runs up to `concurrency` at
 * once. The hub runs one in-process on the embedded defaults; a larger installation runs it in worker processes.
 * `kick()` after an enqueue in the same process starts the job at once instead of at the next poll.
 */
import { hostname } from 'node:os'
import { isKuraError, newId, silentLogger, type Logger } from '@kura/core'
import type { ClaimedJob, JobQueue } from './queue.ts'

/** Runs one job. Throw to fail it; a KuraError with `details.retryable === false` fails it for good. */
export type JobHandler = (payload: any, job: ClaimedJob) => Promise<void>

export interface JobRunnerOptions {
  concurrency?: number
  pollMs?: number
  /** How long a claim lasts before another worker may take the job; extended every third of it while running. */
  leaseMs?: number
  log?: Logger
}

export class JobRunner {
  readonly worker = `${hostname()}:${process.pid}:${newId().slice(-8)}`
  private readonly handlers = new Map<string, JobHandler>()
  private readonly running = new Set<Promise<void>>()
  private timer: NodeJS.Timeout | null = null
  private draining: Promise<void> | null = null
  private again = false
  private stopped = true
  private readonly o: Required<Omit<JobRunnerOptions, 'log'>>
  private readonly log: Logger

  constructor(private readonly queue: JobQueue, opts: JobRunnerOptions = {}) {
    this.o = { concurrency: opts.concurrency ?? 1, pollMs: opts.pollMs ?? 2000, leaseMs: opts.leaseMs ?? 60_000 }
    this.log = opts.log ?? silentLogger
  }

  handle(name: string, handler: JobHandler): this {
    this.handlers.set(name, handler)
    return this
  }

  start(): void {
    this.stopped = false
    this.timer = setInterval(() => this.kick(), this.o.pollMs)
    this.timer.unref()
    this.kick()
  }

  /** Look for work now. */
  kick(): void {
    if (this.stopped) return
    if (this.draining) { this.again = true; return }
    this.draining = this.fill().finally(() => {
      this.draining = null
      if (this.again) { this.again = false; this.kick() }
    })
  }

  /** Stops claiming and waits for the jobs in flight. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    await this.draining
    await Promise.allSettled([...this.running])
  }

  /** Resolves when no job is running in this runner and none is ready in the queue for it (tests). */
  async idle(timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs
    for (;;) {
      await this.draining
      await Promise.allSettled([...this.running])
      if (this.running.size === 0 && !this.draining) {
        const counts = await this.queue.counts()
        if (counts.active === 0 && !(await this.readyExists())) return
      }
      if (Date.now() > end) throw new Error('job runner: still busy after the timeout')
      this.kick()
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  private readyExists(): Promise<boolean> {
    return this.queue.peekReady([...this.handlers.keys()])
  }

  private async fill(): Promise<void> {
    const names = [...this.handlers.keys()]
    while (!this.stopped && this.running.size < this.o.concurrency) {
      let job: ClaimedJob | null
      try {
        job = await this.queue.claim(names, this.worker, this.o.leaseMs)
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'job queue: claiming failed; trying again at the next poll')
        return
      }
      if (!job) return
      const p = this.run(job).finally(() => {
        this.running.delete(p)
        this.kick()
      })
      this.running.add(p)
    }
  }

  private async run(job: ClaimedJob): Promise<void> {
    const heartbeat = setInterval(() => void this.queue.extend(job.id, this.worker, this.o.leaseMs).catch(() => {}), Math.max(1000, this.o.leaseMs / 3))
    heartbeat.unref()
    const t0 = performance.now()
    try {
      await this.handlers.get(job.name)!(job.payload, job)
      await this.queue.complete(job.id, this.worker)
      this.log.info({ job: job.id, name: job.name, ms: Math.round(performance.now() - t0) }, 'job done')
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e)
      const retryable = !(isKuraError(e) && e.details?.retryable === false)
      const outcome = await this.queue.fail(job, this.worker, msg, retryable).catch(() => 'retry' as const)
      this.log.warn({ job: job.id, name: job.name, attempt: job.attempt, outcome, err: msg }, outcome === 'failed' ? 'job failed for good' : 'job failed; it will be retried')
    } finally {
      clearInterval(heartbeat)
    }
  }
}
