/** @module Slide rows in the catalog and their JSON form. Rows never change once written. */
import type { Kysely, Selectable } from 'kysely'
import type { Database } from '@kura/storage'
import type { Level } from '@kura/wsi'

export type SlideRow = Selectable<Database['slide']> & { collection: string }

export interface SlideInfo {
  id: string
  collection: string
  format: string
  width: number
  height: number
  levels: Level[]
  mpp: { x: number; y: number } | null
  objectivePower: number | null
  associated: { name: string; width: number; height: number }[]
  sha256: string
  size: number
  createdAt: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export const isSlideId = (s: string) => UUID.test(s)

export function slideQuery(db: Kysely<Database>) {
  return db.selectFrom('slide as s').innerJoin('collection as c', 'c.id', 's.collection_id').selectAll('s').select('c.name as collection')
}

export async function findSlide(db: Kysely<Database>, id: string): Promise<SlideRow | undefined> {
  if (!isSlideId(id)) return undefined
  return slideQuery(db).where('s.id', '=', id).executeTakeFirst()
}

export function slideInfo(r: SlideRow): SlideInfo {
  return {
    id: r.id,
    collection: r.collection,
    format: r.format,
    width: Number(r.width),
    height: Number(r.height),
    levels: JSON.parse(r.levels) as Level[],
    mpp: r.mpp_x != null && r.mpp_y != null ? { x: Number(r.mpp_x), y: Number(r.mpp_y) } : null,
    objectivePower: r.objective_power == null ? null : Number(r.objective_power),
    associated: JSON.parse(r.associated),
    sha256: r.sha256,
    size: Number(r.size),
    createdAt: r.created_at,
  }
}
