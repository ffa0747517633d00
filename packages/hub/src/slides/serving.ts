/**
 * @module What every slide route shares: the slide row lookup with the collection guard, the
 * open readers, and the audit throttle for tile reads.
 */
import type { FastifyRequest } from 'fastify'
import { combineLevels, needsPyramid, openDicomSlide, openSlide, withDerivedLevels, type Level, type Slide } from '@kura/wsi'
import type { Archive } from '../archive/archive.ts'
import type { GrantedPermission } from '../auth/roles.ts'
import { TileAuditThrottle } from './audit-throttle.ts'
import { findSlide, type SlideRow } from './catalog.ts'
import { SlideErrors } from './errors.ts'
import { enqueuePyramid, SLIDE_PYRAMID_JOB } from './pyramid-job.ts'
import { ReaderCache } from './reader-cache.ts'
import { DICOM_SLIDE_KEY_PREFIX } from './upload.ts'

const ROW_CACHE = 4096
const THUMBNAIL_CACHE = 512
/** How often a slide still waiting for its derived levels looks for them. */
const DERIVED_RECHECK_MS = 2000

/** A slide row as served: with its derived levels appended once a worker has built them. */
export type ServedSlideRow = SlideRow & { derived_key: string | null }

interface RowEntry {
  row: ServedSlideRow
  checkedAt: number
}

export class SlideServing {
  readonly readers: ReaderCache
  private readonly throttle = new TileAuditThrottle()
  /** Slide rows never change once written (new bytes are a new slide), so they are kept; derived levels are added. */
  private readonly rows = new Map<string, RowEntry>()
  /** Rendered thumbnails (tens of kB each), so a slide list does not decode every slide again. */
  private readonly thumbnails = new Map<string, Promise<Uint8Array>>()
  /** The instance object keys of DICOM WSI slides by their set key, for the reader cache to open them. */
  private readonly instanceKeys = new Map<string, readonly string[]>()

  constructor(readonly archive: Archive) {
    this.readers = new ReaderCache(async (key) => {
      const [base, derived] = key.split('+')
      const slide = base!.startsWith(DICOM_SLIDE_KEY_PREFIX) ? await this.openInstances(base!) : await openSlide(await archive.objects.source(base!))
      if (!derived) return slide
      try {
        return withDerivedLevels(slide, await openSlide(await archive.objects.source(derived)))
      } catch (e) {
        await slide.close()
        throw e
      }
    })
  }

  /** A DICOM WSI: every instance's object, opened together (each read is a range read, as for one file). */
  private async openInstances(setKey: string): Promise<Slide> {
    const keys = this.instanceKeys.get(setKey)
    if (!keys?.length) throw SlideErrors.notFound('The instances of this slide are')
    const sources = []
    try {
      for (const k of keys) sources.push(await this.archive.objects.source(k))
    } catch (e) {
      await Promise.all(sources.map((s) => s.close().catch(() => {})))
      throw e
    }
    return openDicomSlide(sources)
  }

  /**
   * The slide, if the principal holds `permission` on its collection. A slide in a collection
   * outside the principal's grants answers exactly like a missing one (404), so nobody learns
   * what other collections hold.
   */
  async guard(req: FastifyRequest, id: string, permission: GrantedPermission): Promise<ServedSlideRow> {
    const row = await this.served(id)
    if (!row) throw SlideErrors.notFound()
    req.audit.collection = row.collection
    if (!req.access.can(permission, row.collection)) {
      req.audit.outcome = 'denied'
      req.audit.detail = { hidden: 'slide is in a collection this principal cannot access' }
      throw SlideErrors.notFound()
    }
    return row
  }

  /** The slide as served (with its derived levels once built), with no access check: callers check first. */
  async served(id: string): Promise<ServedSlideRow | null> {
    let entry = this.rows.get(id)
    if (!entry) {
      const found = await findSlide(this.archive.catalog.db, id)
      if (!found) return null
      entry = { row: { ...found, derived_key: null }, checkedAt: 0 }
      this.rows.set(id, entry)
      if (this.rows.size > ROW_CACHE) this.rows.delete(this.rows.keys().next().value!)
    }
    if (entry.row.derived_key === null && Date.now() - entry.checkedAt > DERIVED_RECHECK_MS) await this.lookForDerived(entry)
    return entry.row
  }

  async withSlide<T>(row: ServedSlideRow, fn: (slide: Slide) => Promise<T>): Promise<T> {
    if (row.object_key.startsWith(DICOM_SLIDE_KEY_PREFIX) && !this.instanceKeys.has(row.object_key)) {
      // Rows never change, and the same set key always names the same objects (content-addressed), whatever the collection.
      const keys = (await this.archive.catalog.db.selectFrom('slide_instance').select('object_key').where('slide_id', '=', row.id).orderBy('object_key').execute()).map((r) => r.object_key)
      this.instanceKeys.set(row.object_key, keys)
      if (this.instanceKeys.size > ROW_CACHE) this.instanceKeys.delete(this.instanceKeys.keys().next().value!)
    }
    return this.readers.use(row.derived_key ? `${row.object_key}+${row.derived_key}` : row.object_key, fn)
  }

  /**
   * A slide without small levels is served with the ones a worker built, once they exist. If no job was ever
   * queued for it (stored before this existed, or the queueing was lost in a crash) it is queued now.
   */
  private async lookForDerived(entry: RowEntry): Promise<void> {
    entry.checkedAt = Date.now()
    const levels = JSON.parse(entry.row.levels) as Level[]
    // Any slide format, DICOM WSI included (pyramid-job.ts copies its smallest level for libvips first).
    if (!needsPyramid(levels)) return
    const db = this.archive.catalog.db
    const d = await db.selectFrom('slide_derivative').select(['object_key', 'levels']).where('slide_id', '=', entry.row.id).where('kind', '=', 'pyramid').executeTakeFirst()
    if (d) {
      const combined = combineLevels(levels, JSON.parse(d.levels) as Level[]).levels
      entry.row = { ...entry.row, levels: JSON.stringify(combined), derived_key: d.object_key }
      this.thumbnails.delete(entry.row.id)
    } else if (!(await this.archive.jobs.latest(`${SLIDE_PYRAMID_JOB}:${entry.row.id}`))) {
      await enqueuePyramid(this.archive, entry.row.id, levels)
    }
  }

  /** The thumbnail of a slide, rendered once per process (`render` runs on the first request). */
  thumbnail(row: SlideRow, render: () => Promise<Uint8Array>): Promise<Uint8Array> {
    let t = this.thumbnails.get(row.id)
    if (!t) {
      t = render()
      this.thumbnails.set(row.id, t)
      t.catch(() => this.thumbnails.delete(row.id))
      if (this.thumbnails.size > THUMBNAIL_CACHE) this.thumbnails.delete(this.thumbnails.keys().next().value!)
    }
    return t
  }

  /**
   * Called for a tile read that succeeded: the first per (principal, slide) in ten minutes is
   * recorded, the rest are marked as recorded so the generic audit event is skipped.
   */
  auditTile(req: FastifyRequest, row: SlideRow): void {
    const p = req.access.principal
    const who = p ? `${p.username}\u0000${p.tokenId ?? ''}` : 'anonymous'
    if (this.throttle.shouldRecord(who, row.id)) req.audit.detail = { ...req.audit.detail, tiles: 'further tile reads of this slide by this principal within 10 minutes are not recorded' }
    else req.audit.recorded = true
  }
}
