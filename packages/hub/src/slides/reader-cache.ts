/**
 * @module Open slide readers kept in an LRU, so a tile request does not re-open the file and
 * re-parse its directory. Readers over S3 sources work the same (their range GETs are the reads).
 *
 * An evicted reader is closed only when no request is using it any more; a reader that failed
 * with anything but a deliberate error is dropped (as OpenSlide's sticky errors), and the next
 * request opens a fresh one.
 */
import { isKuraError } from '@kura/core'
import type { Slide } from '@kura/wsi'

interface Entry {
  slide: Promise<Slide>
  users: number
  evicted: boolean
}

export class ReaderCache {
  private readonly entries = new Map<string, Entry>()

  constructor(
    /** Opens the slide a key names (an object key, or a slide's object key and its derived levels' key). */
    private readonly open: (key: string) => Promise<Slide>,
    readonly capacity = 64,
  ) {}

  /** Runs `fn` with the slide stored under `key` (an object key), opening it if needed. */
  async use<T>(key: string, fn: (slide: Slide) => Promise<T>): Promise<T> {
    let e = this.entries.get(key)
    if (e) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.entries.delete(key)
      this.entries.set(key, e)
    } else {
      e = { slide: this.open(key), users: 0, evicted: false }
      this.entries.set(key, e)
      this.evict()
    }
    const entry = e
    entry.users++
    let opened = false
    try {
      const slide = await entry.slide
      opened = true
      return await fn(slide)
    } catch (err) {
      if (!opened || !isKuraError(err) || err.status >= 500) this.drop(key, entry)
      throw err
    } finally {
      entry.users--
      if (entry.evicted && entry.users === 0) void this.close(entry)
    }
  }

  get size(): number {
    return this.entries.size
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.values()]
    this.entries.clear()
    await Promise.all(all.map((e) => this.close(e)))
  }

  private drop(key: string, entry: Entry): void {
    if (this.entries.get(key) === entry) this.entries.delete(key)
    entry.evicted = true
  }

  private evict(): void {
    while (this.entries.size > this.capacity) {
      const [key, entry] = this.entries.entries().next().value as [string, Entry]
      this.entries.delete(key)
      entry.evicted = true
      if (entry.users === 0) void this.close(entry)
    }
  }

  private async close(entry: Entry): Promise<void> {
    try {
      await (await entry.slide).close()
    } catch {
      // It never opened, or closing failed: nothing more to release.
    }
  }
}
