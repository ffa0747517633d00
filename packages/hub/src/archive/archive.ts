/**
 * @module Archive: stores DICOM instances (original bytes + catalog entry) and removes them.
 *
 * Order matters for "nothing half-stored": the original is written (content-addressed,
 * idempotent) before the catalog row that points at it, so a crash in between leaves at most
 * an unreferenced object, never a catalog entry without its bytes.
 *
 * A gateway's bundle of small instances is stored as one pack: one object holding their bytes end
 * to end, each row saying where its instance starts (`objectOffset`). A file, a folder entry and two
 * flushes per small instance were most of the hub's kernel time on receipt; on S3 a pack is one PUT.
 * Readers go through `instanceSource` / `instanceStream`, which give an instance's own bytes either way.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { isKuraError, loadHubConfig, newId, sha256Hex, SliceSource, type ByteSource, type HubConfig, type Logger, silentLogger, KuraError } from '@kura/core'
import type { Finding } from '@kura/deid'
import { readDicom } from '@kura/dicom'
import {
  deleteInstance, deleteSeries, deleteStudy, openCatalog, openObjectStore, storeInstance, JobQueue,
  type ArchiveObjectStore, type Catalog, type InstanceRecord, type InstanceRow,
} from '@kura/storage'
import { describeInstance } from './describe.ts'
import { ArchiveErrors } from './errors.ts'
import { receive, type HashedBytes, type LocalFile, type ReceivedObject } from './receive.ts'
import { readForCheck, receiptFindings } from './receipt-check.ts'

export type IngestResult =
  | { status: 'stored' | 'duplicate'; sopInstanceUid: string; sopClassUid: string; studyInstanceUid: string; seriesInstanceUid: string }
  | { status: 'conflict' | 'rejected'; sopInstanceUid?: string; sopClassUid?: string; code: string; reason: string }

export interface IngestInput {
  /** The bytes: a stream, a buffer, or a local file with its checked SHA-256 (moved into the store, or removed). */
  source: Readable | Uint8Array | LocalFile | HashedBytes
  collection: string
  /** When set, an instance of any other study is refused (STOW-RS to /studies/{uid}, PS3.18 10.5.1). */
  studyInstanceUid?: string
  /** The sender's site, for a site uploader: its studies are recorded as the site's, and another site's are refused. */
  site?: string
}

const COLLECTION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** Values above this are left in the object and served as bulk data (PS3.18 F.2.6). */
const BULK_THRESHOLD = 1024

/** Originals written at once by ingestMany (each is several file-system calls on the thread pool). */
const PUT_PARALLEL = 4
/** SOP Instance UIDs per duplicate lookup (bound parameters). */
const LOOKUP_CHUNK = 500

interface Prepared {
  received: ReceivedObject
  rec: InstanceRecord
  ok: { sopInstanceUid: string; sopClassUid: string; studyInstanceUid: string; seriesInstanceUid: string }
}

export function objectKeyFor(sha256: string): string {
  return `dicom/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`
}

export class Archive {
  /** Work that follows a store (building a slide's missing levels, ...), done by queue workers. */
  readonly jobs: JobQueue

  constructor(
    readonly catalog: Catalog,
    readonly objects: ArchiveObjectStore,
    private readonly tmpDir: string,
    readonly log: Logger = silentLogger,
  ) {
    this.jobs = new JobQueue(catalog.db, catalog.engine)
  }

  /** Stores one Part 10 object. Never throws for bad input: the result says why it was refused. */
  async ingest(input: IngestInput): Promise<IngestResult> {
    return (await this.ingestMany([input]))[0]!
  }

  /**
   * Stores several Part 10 objects (a gateway's bundle) with the same outcome per object as `ingest`, but the
   * per-object round trips shared: one duplicate lookup for all, one de-identified check per collection, one
   * site claim per study, and the catalog rows written together (storeInstance groups concurrent calls into
   * one transaction). Every original is durable before any of their rows is written, so a crash part-way
   * leaves at most unreferenced objects, never a row without its bytes. Bytes are held until the end: give
   * it in-memory objects, or few large ones.
   */
  async ingestMany(inputs: IngestInput[]): Promise<IngestResult[]> {
    const results: IngestResult[] = new Array(inputs.length)
    const held: Array<Prepared | null> = new Array(inputs.length).fill(null)
    const deidentified = new Map<string, Promise<boolean>>()
    const claims = new Map<string, Promise<void>>()
    const failed = (i: number, e: unknown) => { results[i] = this.failure(e, held[i]?.rec) }
    try {
      // 1. Receive, parse, describe, check: each object on its own.
      for (const [i, input] of inputs.entries()) {
        const r = await this.prepare(input, deidentified, claims).catch((e) => this.failure(e, undefined))
        if ('received' in r) held[i] = r
        else results[i] = r
      }
      // 2. Duplicates and conflicts are decided before writing anything, so a retried upload costs one lookup.
      const live = () => held.flatMap((p, i) => (p && results[i] === undefined ? [i] : []))
      try {
        const known = await this.storedSha256(live().map((i) => held[i]!.rec.sopInstanceUid))
        for (const i of live()) {
          const { rec, received, ok } = held[i]!
          const sha = known.get(rec.sopInstanceUid)
          if (sha === undefined) continue
          results[i] = sha === received.sha256 ? { status: 'duplicate', ...ok } : refused(ArchiveErrors.conflict(rec.sopInstanceUid, `stored SHA-256 ${sha.slice(0, 12)}…, received ${received.sha256.slice(0, 12)}…`), 'conflict', rec.sopInstanceUid, rec.sopClassUid)
        }
      } catch (e) {
        for (const i of live()) failed(i, e)
      }
      // 3. The originals, each durable (fdatasync + rename + folder fsync) before step 4 writes any row: the
      // in-memory ones of a bundle together in one pack, the others (files, a lone object) each as its own object.
      const inMemory = live().filter((i) => !held[i]!.received.path)
      let pack: string | null = null
      if (inMemory.length >= 2) {
        try {
          pack = await this.putPack(inMemory.map((i) => held[i]!))
        } catch (e) {
          for (const i of inMemory) failed(i, e)
        }
      }
      const toPut = live().filter((i) => held[i]!.rec.objectOffset == null)
      let next = 0
      const putter = async () => {
        while (next < toPut.length) {
          const i = toPut[next++]!
          const { received, rec } = held[i]!
          try {
            if (received.path) {
              await this.objects.putFile(rec.objectKey, received.path, { sha256: received.sha256, move: true, verified: true })
            } else {
              // receive() hashed this very buffer (or the caller did, as HashedBytes): the filesystem store need not again.
              const trusted = { sha256: received.sha256, verified: true }
              await this.objects.put(rec.objectKey, received.buffer!, trusted)
            }
          } catch (e) {
            failed(i, e)
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(PUT_PARALLEL, toPut.length) }, putter))
      // 4. The rows: submitted together, so the catalog writes them in as few transactions as it can.
      await Promise.all(live().map(async (i) => {
        const { rec, ok } = held[i]!
        try {
          const outcome = await storeInstance(this.catalog.db, rec)
          if (outcome.status === 'conflict') {
            // Another process stored this SOP Instance UID with other bytes between our lookup and insert (a pack
            // is removed below, once no row refers to it).
            if (rec.objectOffset == null) await this.objects.delete(rec.objectKey)
            results[i] = refused(ArchiveErrors.conflict(rec.sopInstanceUid, outcome.reason), 'conflict', rec.sopInstanceUid, rec.sopClassUid)
          } else {
            results[i] = { status: outcome.status, ...ok }
          }
        } catch (e) {
          failed(i, e)
        }
      }))
      if (pack && !inMemory.some((i) => results[i]?.status === 'stored')) await this.dropIfUnreferenced(pack)
      return results
    } finally {
      for (const p of held) if (p) await p.received.discard()
    }
  }

  /**
   * Writes the objects' bytes end to end as one content-addressed object (durable before it returns) and points each
   * record at its place in it. The same bundle sent again writes the same pack under the same key.
   */
  private async putPack(items: Prepared[]): Promise<string> {
    const pack = Buffer.concat(items.map((p) => p.received.buffer!))
    // Hashed here, over exactly this buffer: the filesystem store need not hash it again.
    const trusted = { sha256: sha256Hex(pack), verified: true }
    const key = objectKeyFor(trusted.sha256)
    await this.objects.put(key, pack, trusted)
    let offset = 0
    for (const { rec } of items) {
      rec.objectKey = key
      rec.objectOffset = offset
      offset += rec.size
    }
    return key
  }

  /** Removes an object no instance row refers to (a pack none of whose instances was stored). */
  private async dropIfUnreferenced(key: string): Promise<void> {
    const used = await this.catalog.db.selectFrom('instance').select('id').where('object_key', '=', key).executeTakeFirst()
    if (!used) await this.objects.delete(key)
  }

  /** An instance's stored bytes, for random access: its own object, or its slice of a pack. */
  async instanceSource(row: Pick<InstanceRow, 'objectKey' | 'objectOffset' | 'size'>): Promise<ByteSource> {
    const src = await this.objects.source(row.objectKey)
    if (row.objectOffset == null) return src
    try {
      return new SliceSource(src, row.objectOffset, row.size, { owns: true })
    } catch (e) {
      await src.close()
      throw e
    }
  }

  /** An instance's stored bytes as a stream: its own object, or its range of a pack. */
  async instanceStream(row: Pick<InstanceRow, 'objectKey' | 'objectOffset' | 'size'>): Promise<Readable> {
    return row.objectOffset == null ? this.objects.get(row.objectKey) : this.objects.get(row.objectKey, { offset: row.objectOffset, length: row.size })
  }

  /** Receives, parses and describes one object, runs the receipt check and the site claim; a refusal (or quarantine) as a result. */
  private async prepare(input: IngestInput, deidentified: Map<string, Promise<boolean>>, claims: Map<string, Promise<void>>): Promise<Prepared | IngestResult> {
    if (!COLLECTION.test(input.collection)) return refused(ArchiveErrors.badCollection(input.collection))
    let received
    try {
      received = await receive(input.source, this.tmpDir)
    } catch (e) {
      // The bytes never arrived whole (client gone, body broken): nothing was stored.
      if (isKuraError(e)) return refused(e)
      return refused(new KuraError('ARCHIVE_RECEIVE_FAILED', `The object's bytes did not arrive completely (${(e as Error)?.message ?? e}); nothing was stored. Send it again.`, { status: 400, cause: e }))
    }
    let rec: InstanceRecord | undefined
    try {
      const src = await received.open()
      let parsed
      try {
        parsed = await readDicom(src, { bulkDataThreshold: BULK_THRESHOLD })
      } finally {
        await src.close()
      }
      const objectKey = objectKeyFor(received.sha256)
      rec = describeInstance(parsed, { collection: input.collection, objectKey, sha256: received.sha256, size: received.size })
      if (input.studyInstanceUid && rec.studyInstanceUid !== input.studyInstanceUid) {
        throw ArchiveErrors.studyMismatch(rec.studyInstanceUid, input.studyInstanceUid)
      }
      const ok = { sopInstanceUid: rec.sopInstanceUid, sopClassUid: rec.sopClassUid, studyInstanceUid: rec.studyInstanceUid, seriesInstanceUid: rec.seriesInstanceUid }

      if (!deidentified.has(input.collection)) deidentified.set(input.collection, this.isDeidentified(input.collection))
      if (await deidentified.get(input.collection)) {
        const checkSrc = await received.open()
        let findings
        try {
          findings = receiptFindings(await readForCheck(checkSrc))
        } finally {
          await checkSrc.close()
        }
        if (findings.length) {
          const r = await this.quarantine(received, rec, findings)
          await received.discard()
          return r
        }
      }

      if (input.site) {
        // A refused claim refuses every object of that study in the batch, as it would one by one.
        const key = `${rec.studyInstanceUid}\n${input.site}`
        if (!claims.has(key)) claims.set(key, this.claimForSite(rec.studyInstanceUid, input.site))
        await claims.get(key)
      }
      return { received, rec, ok }
    } catch (e) {
      await received.discard()
      return this.failure(e, rec)
    }
  }

  /** A refusal for an error thrown while storing: bad input says why; anything else is logged and reported as a server error. */
  private failure(e: unknown, rec: InstanceRecord | undefined): IngestResult {
    if (isKuraError(e)) return refused(e, 'rejected', rec?.sopInstanceUid, rec?.sopClassUid)
    this.log.error({ err: String(e), stack: (e as Error)?.stack }, 'ingest failed')
    return refused(new KuraError('ARCHIVE_INTERNAL', 'The object could not be stored because of a server error; it was not stored. Retry, and report it if it persists.', { status: 500, cause: e }), 'rejected', rec?.sopInstanceUid, rec?.sopClassUid)
  }

  /** The stored SHA-256 of each of these SOP Instance UIDs that the catalog holds. */
  private async storedSha256(uids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    for (let at = 0; at < uids.length; at += LOOKUP_CHUNK) {
      const rows = await this.catalog.db.selectFrom('instance').select(['sop_instance_uid', 'sha256']).where('sop_instance_uid', 'in', uids.slice(at, at + LOOKUP_CHUNK)).execute()
      for (const r of rows) out.set(r.sop_instance_uid, r.sha256)
    }
    return out
  }

  /**
   * A site uploader adds only to its own site's studies: a new study is claimed for the site
   * before its first instance is stored (so the other instances of one STOW find the claim); a
   * study another site claimed, or one stored without a site (by a curator), is refused.
   */
  private async claimForSite(studyInstanceUid: string, site: string): Promise<void> {
    const db = this.catalog.db
    const ownerOf = () => db.selectFrom('study_site as ss').innerJoin('site as si', 'si.id', 'ss.site_id').select('si.name').where('ss.study_instance_uid', '=', studyInstanceUid).executeTakeFirst()
    let owner = await ownerOf()
    if (!owner) {
      const stored = await db.selectFrom('study').select('id').where('study_instance_uid', '=', studyInstanceUid).executeTakeFirst()
      const siteRow = await db.selectFrom('site').select('id').where('name', '=', site).executeTakeFirst()
      if (stored || !siteRow) throw ArchiveErrors.otherSite(studyInstanceUid, site)
      await db.insertInto('study_site').values({ study_instance_uid: studyInstanceUid, site_id: siteRow.id, created_at: new Date().toISOString() }).onConflict((oc) => oc.column('study_instance_uid').doNothing()).execute()
      owner = await ownerOf()
    }
    if (owner?.name !== site) throw ArchiveErrors.otherSite(studyInstanceUid, site)
  }

  /** Whether the collection accepts only de-identified objects (a new collection does not). */
  private async isDeidentified(collection: string): Promise<boolean> {
    const row = await this.catalog.db.selectFrom('collection').select('deidentified').where('name', '=', collection).executeTakeFirst()
    return row?.deidentified === 1
  }

  /**
   * Keeps an object that failed the receipt check where no reader can reach it, with the reasons;
   * receiving the same bytes again adds no second entry.
   */
  private async quarantine(received: ReceivedObject, rec: InstanceRecord, findings: Finding[]): Promise<IngestResult> {
    const key = `quarantine/${received.sha256}`
    const collectionId = await this.catalog.db.selectFrom('collection').select('id').where('name', '=', rec.collection).executeTakeFirstOrThrow()
    const known = await this.catalog.db.selectFrom('quarantine').select('id').where('sha256', '=', received.sha256).where('collection_id', '=', collectionId.id).executeTakeFirst()
    if (!known) {
      if (received.path) await this.objects.putFile(key, received.path, { sha256: received.sha256, move: true, verified: true })
      else await this.objects.put(key, received.buffer!, { sha256: received.sha256 })
      await this.catalog.db
        .insertInto('quarantine')
        .values({ id: newId(), collection_id: collectionId.id, object_key: key, sha256: received.sha256, size: received.size, sop_instance_uid: rec.sopInstanceUid, study_instance_uid: rec.studyInstanceUid, findings: JSON.stringify(findings), received_at: new Date().toISOString() })
        .execute()
      this.log.warn({ collection: rec.collection, sopInstanceUid: rec.sopInstanceUid, findings: findings.map((f) => f.kind) }, 'object quarantined on receipt')
    }
    return refused(ArchiveErrors.quarantined(rec.collection, findings), 'rejected', rec.sopInstanceUid, rec.sopClassUid)
  }

  /** Removes instances from the catalog, then their originals (a pack with its last instance). Returns how many instances went. */
  async delete(target: { studyInstanceUid: string; seriesInstanceUid?: string; sopInstanceUid?: string }): Promise<number> {
    const { instances, keys } = target.sopInstanceUid
      ? await deleteInstance(this.catalog.db, target.studyInstanceUid, target.seriesInstanceUid!, target.sopInstanceUid)
      : target.seriesInstanceUid
        ? await deleteSeries(this.catalog.db, target.studyInstanceUid, target.seriesInstanceUid)
        : await deleteStudy(this.catalog.db, target.studyInstanceUid)
    for (const key of keys) await this.objects.delete(key)
    if (!target.seriesInstanceUid) await this.catalog.db.deleteFrom('study_site').where('study_instance_uid', '=', target.studyInstanceUid).execute()
    return instances
  }

  async close(): Promise<void> {
    await this.catalog.close()
    await this.objects.close()
  }
}

function refused(e: KuraError, status: 'conflict' | 'rejected' = 'rejected', sopInstanceUid?: string, sopClassUid?: string): IngestResult {
  return { status, sopInstanceUid, sopClassUid, code: e.code, reason: e.message }
}

/** Opens the archive on the configured catalog and object store (embedded defaults under dataDir). */
export async function openArchive(config: HubConfig = loadHubConfig(), log?: Logger): Promise<Archive> {
  const tmpDir = join(config.dataDir, 'tmp')
  await mkdir(tmpDir, { recursive: true })
  const catalog = await openCatalog(config.databaseUrl)
  try {
    const objects = await openObjectStore({ dataDir: config.dataDir, s3: config.s3 })
    return new Archive(catalog, objects, tmpDir, log)
  } catch (e) {
    await catalog.close()
    throw e
  }
}
