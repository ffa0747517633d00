/**
 * @module A fixed-window rate limiter, per key, in process memory.
 *
 * Guards sign-in and failed token use against guessing. Per process: with N hub processes an
 * attacker gets N times the budget, still far too little for a password or 256-bit token.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>()

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Counts one hit; returns 0 when allowed, else the seconds until the window resets. */
  hit(key: string, now = Date.now()): number {
    let w = this.windows.get(key)
    if (!w || now - w.start >= this.windowMs) {
      if (this.windows.size > 50_000) this.sweep(now)
      w = { start: now, count: 0 }
      this.windows.set(key, w)
    }
    w.count++
    return w.count > this.limit ? Math.ceil((w.start + this.windowMs - now) / 1000) : 0
  }

  /** Seconds until the key may try again without counting a hit (0 when it may now). */
  waiting(key: string, now = Date.now()): number {
    const w = this.windows.get(key)
    if (!w || now - w.start >= this.windowMs || w.count < this.limit) return 0
    return Math.ceil((w.start + this.windowMs - now) / 1000)
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k)
  }
}
