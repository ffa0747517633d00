/**
 * @module Bandwidth cap: one token bucket shared by every upload, whose rate follows the time-of-day windows
 * (e.g. full speed at night, 2 MB/s by day). A rate of 0 means no cap.
 */
import { rateAt, type TimeWindow } from '../config/index.ts'

export class Bandwidth {
  private readonly windows: readonly TimeWindow[]
  private readonly dflt: number
  private tokens = 0
  private last = Date.now()
  private queue: Promise<void> = Promise.resolve()
  private readonly clock: () => Date

  constructor(dflt: number, windows: readonly TimeWindow[] = [], clock: () => Date = () => new Date()) {
    this.dflt = dflt
    this.windows = windows
    this.clock = clock
  }

  /** The cap in force now, bytes per second (0 = none). */
  rate(): number {
    return rateAt(this.clock(), this.windows, this.dflt)
  }

  /** Waits until `n` bytes may be sent. Callers are served in order, so one large sender cannot starve others. */
  take(n: number): Promise<void> {
    const turn = this.queue.then(() => this.wait(n))
    this.queue = turn.catch(() => {})
    return turn
  }

  private async wait(n: number): Promise<void> {
    for (;;) {
      const rate = this.rate()
      const now = Date.now()
      if (rate <= 0) { this.tokens = 0; this.last = now; return }
      // At most one second of burst, so a cap holds over short intervals too.
      this.tokens = Math.min(rate, this.tokens + ((now - this.last) / 1000) * rate)
      this.last = now
      if (this.tokens >= n || (this.tokens >= rate && n > rate)) { this.tokens -= n; return }
      const need = Math.min(n, rate) - this.tokens
      await new Promise((r) => setTimeout(r, Math.max(5, Math.ceil((need / rate) * 1000))))
    }
  }
}
