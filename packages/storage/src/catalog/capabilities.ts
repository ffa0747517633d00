/**
 * @module Catalog capabilities: what the engine behind a Kysely instance can do.
 *
 * Repositories take a plain `Kysely<Database>` (the house style), yet the hot path wants to use
 * engine features where they exist. connect.ts registers each catalog's capabilities here; code
 * branches on these flags, never on an engine name. An unregistered Kysely (a transaction, a
 * hand-made instance) gets the most portable behaviour.
 */
import type { Kysely } from 'kysely'

export interface CatalogCapabilities {
  /** INSERT/UPDATE inside WITH (PostgreSQL): storeInstance's common case becomes one round trip. */
  dataModifyingCte: boolean
  /** Several connections may write at once (PostgreSQL); SQLite runs one writer at a time. */
  concurrentWriters: boolean
  /**
   * Column type for compared and sorted text: byte order, so `LIKE 'abc%'` and ranges can use a
   * plain b-tree ('text collate "C"' on PostgreSQL, 'text' — BINARY — on SQLite).
   */
  byteOrderText: string
}

export const PORTABLE_CAPABILITIES: CatalogCapabilities = Object.freeze({ dataModifyingCte: false, concurrentWriters: false, byteOrderText: 'text' })

const registry = new WeakMap<object, CatalogCapabilities>()

export function registerCapabilities(db: Kysely<any>, caps: CatalogCapabilities): void {
  registry.set(db, caps)
}

export function capabilitiesOf(db: Kysely<any>): CatalogCapabilities {
  return registry.get(db) ?? PORTABLE_CAPABILITIES
}
