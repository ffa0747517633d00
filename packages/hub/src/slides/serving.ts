/**
 * @module What every slide route shares: the slide row lookup with the collection guard, the
 * open readers, and the audit throttle for tile reads.
 */
import type { FastifyRequest } from 'fastify'
import type { Slide } from '@kura/wsi'
import type { Archive } from '../archive/archive.ts'
import type { GrantedPermission } from '../auth/roles.ts'
import { TileAuditThrottle } from './audit-throttle.ts'
import { findSlide, type SlideRow } from './catalog.ts'
import { SlideErrors } from './errors.ts'
import { ReaderCache } from './reader-cache.ts'

const ROW_CACHE = 4096
const THUMBNAIL_CACHE = 512

export class SlideServing {
  readonly readers: ReaderCache
  private readonly throttle = new TileAuditThrottle()
  /** Slide rows never change once written (new bytes are a new slide), so they are kept. */
  private readonly rows = new Map<string, SlideRow>()
  /** Rendered thumbnails (tens of kB each), so a slide list does not decode every slide again. */
  private readonly thumbnails = new Map<string, Promise<Uint8Array>>()

  constructor(readonly archive: Archive) {
    this.readers = new ReaderCache((key) => archive.objects.source(key))
  }

  /**
   * The slide, if the principal holds `permission` on its collection. A slide in a collection
   * outside the principal's grants answers exactly like a missing one (404), so nobody learns
   * what other collections hold.
   */
  async guard(req: FastifyRequest, id: string, permission: GrantedPermission): Promise<SlideRow> {
    let row = this.rows.get(id)
    if (!row) {
      row = await findSlide(this.archive.catalog.db, id)
      if (!row) throw SlideErrors.notFound()
      this.rows.set(id, row)
      if (this.rows.size > ROW_CACHE) this.rows.delete(this.rows.keys().next().value!)
    }
    req.audit.collection = row.collection
    if (!req.access.can(permission, row.collection)) {
      req.audit.outcome = 'denied'
      req.audit.detail = { hidden: 'slide is in a collection this principal cannot access' }
      throw SlideErrors.notFound()
    }
    return row
  }

  withSlide<T>(row: SlideRow, fn: (slide: Slide) => Promise<T>): Promise<T> {
    return this.readers.use(row.object_key, fn)
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
