/**
 * @module Which tile reads the audit log records. A viewer fetches hundreds of tiles a minute;
 * the log must say who looked at which slide (and when), not list each of 10,000 tiles, so a
 * (principal, slide) pair is recorded at most once per window. Refusals are always recorded:
 * the caller only asks this for reads that succeeded.
 */
export class TileAuditThrottle {
  private readonly seen = new Map<string, number>()

  constructor(readonly windowMs = 10 * 60_000) {}

  /** True when this read should be recorded (and starts a new window for the pair). */
  shouldRecord(principal: string, slideId: string, now = Date.now()): boolean {
    const key = `${principal}\u0000${slideId}`
    const last = this.seen.get(key)
    if (last !== undefined && now - last < this.windowMs) return false
    this.seen.set(key, now)
    if (this.seen.size > 100_000) for (const [k, t] of this.seen) if (now - t >= this.windowMs) this.seen.delete(k)
    return true
  }
}
