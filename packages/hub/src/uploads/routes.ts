/**
 * @module The upload service at /uploads: tus 1.0 (creation, checksum, termination,
 * expiration) for gateways, plus the result of each upload and a study's manifest
 * (docs/upload-protocol.md).
 *
 * Our own small tus server rather than @tus/server: the contract needs the checksum extension
 * (sha256, 460 on mismatch), a completing PATCH that answers only once everything is stored and
 * indexed, and state any hub process can pick up; all of that is a few hundred lines here.
 * State lives in the catalog (`upload` table); bytes in `<dataDir>/uploads/<id>.part`. Several
 * processes on one machine share that directory; several machines need it shared (or sticky
 * routing of /uploads/{id} to the machine that created it).
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { getStudy, listInstances } from '@kura/storage'
import type { Archive } from '../archive/archive.ts'
import { AuthErrors } from '../auth/errors.ts'
import { completeUpload } from './complete.ts'
import { UploadErrors } from './errors.ts'
import { parseUploadMetadata } from './metadata.ts'
import { UploadHasher } from './whole-hasher.ts'
import { appendBody, createPartFile, cutBack, removePartFile, syncPrefix, type AppendOutcome } from './part-file.ts'
import {
  acquireLease, advance, createUpload, deleteUpload, finish, getUpload, isExpired, leaseLive, listExpired, releaseLease, renewLease,
  LEASE_MS, type UploadRow,
} from './upload-state.ts'

export const TUS_VERSION = '1.0.0'
export const DEFAULT_MAX_SIZE = 64 * 1024 ** 3
const SWEEP_MS = 10 * 60_000

export interface UploadRoutesOptions {
  archive: Archive
  dataDir: string
  /** Largest Upload-Length accepted (Tus-Max-Size); default 64 GiB. */
  maxSize?: number
}

/** Where this process's whole-upload hash of an upload stands (the hash itself is on the UploadHasher's thread). */
interface Running {
  offset: number
}

export async function uploadRoutes(app: FastifyInstance, opts: UploadRoutesOptions) {
  const db = opts.archive.catalog.db
  const dir = join(opts.dataDir, 'uploads')
  await mkdir(dir, { recursive: true })
  const maxSize = opts.maxSize ?? DEFAULT_MAX_SIZE
  const partPath = (id: string) => join(dir, `${id}.part`)
  const running = new Map<string, Running>()
  const hasher = new UploadHasher()
  const forget = (id: string) => { running.delete(id); hasher.forget(id) }
  /** Per upload, the PATCH this process is serving last (see Serving). */
  const inProgress = new Map<string, Serving>()
  const write = { config: { permission: 'study:write' as const } }

  // Bodies stay streams: PATCH bodies go straight to disk, and Fastify's bodyLimit never applies.
  app.addContentTypeParser('application/offset+octet-stream', (_req, payload, done) => done(null, payload))
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload))
  app.addHook('onSend', async (_req, reply) => {
    reply.header('Tus-Resumable', TUS_VERSION)
  })

  // Unfinished uploads whose 24 h ran out lose their bytes; finished ones lose their row a week on.
  const sweep = async () => {
    for (const row of await listExpired(db)) {
      if (leaseLive(row)) continue
      await removePartFile(partPath(row.id))
      forget(row.id)
      if (row.state === 'receiving' || row.state === 'processing') await markExpired(row)
      else await deleteUpload(db, row.id)
    }
  }
  const timer = setInterval(() => void sweep().catch((err) => app.log.error({ err }, 'upload sweep failed')), SWEEP_MS)
  timer.unref()
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await hasher.close()
  })

  async function markExpired(row: UploadRow): Promise<void> {
    const result = { state: 'failed', collection: row.collection, study: row.study_instance_uid, objects: [], reason: 'The upload expired (24 h without a PATCH) and its bytes were removed.' }
    await db.updateTable('upload').set({ state: 'failed', result: JSON.stringify(result), updated_at: new Date().toISOString() }).where('id', '=', row.id).where('state', 'in', ['receiving', 'processing']).execute()
  }

  function requireTus(req: FastifyRequest): void {
    const v = req.headers['tus-resumable']
    if (v !== TUS_VERSION) throw UploadErrors.tusVersion(String(v ?? '(none)'))
  }

  /** The upload, if this principal may write to its collection; otherwise exactly like a missing one. */
  async function load(req: FastifyRequest, id: string): Promise<UploadRow> {
    req.audit.detail = { upload: id }
    const row = await getUpload(db, id)
    if (!row) throw UploadErrors.notFound()
    req.audit.collection = row.collection
    if (!req.access.can('study:write', row.collection)) {
      req.audit.outcome = 'denied'
      req.audit.detail = { upload: id, hidden: 'upload is in a collection this principal cannot write to' }
      throw UploadErrors.notFound()
    }
    if (isExpired(row)) {
      await removePartFile(partPath(id))
      forget(id)
      await markExpired(row)
      throw UploadErrors.gone('expired (24 h without a PATCH) and its bytes were removed')
    }
    return row
  }

  app.options('/', write, async (_req, reply) => {
    reply.header('Tus-Version', TUS_VERSION)
    reply.header('Tus-Extension', 'creation,checksum,termination,expiration')
    reply.header('Tus-Checksum-Algorithm', 'sha256')
    reply.header('Tus-Max-Size', String(maxSize))
    return reply.status(204).send()
  })

  app.post('/', write, async (req, reply) => {
    requireTus(req)
    if (req.headers['upload-defer-length'] !== undefined) throw UploadErrors.badHeader('Upload-Defer-Length', 'deferred lengths are not supported; send Upload-Length.')
    const length = parseNonNegative(req.headers['upload-length'], 'Upload-Length')
    if (length > maxSize) throw UploadErrors.tooLarge(length, maxSize)
    if (length === 0) throw UploadErrors.badHeader('Upload-Length', 'an upload holds at least one object, so it cannot be empty.')
    const meta = parseUploadMetadata(req.headers['upload-metadata'] as string | undefined)
    req.audit.collection = meta.collection
    if (!req.access.can('study:write', meta.collection)) throw AuthErrors.forbidden(`study:write permission on collection "${meta.collection.slice(0, 64)}"`)
    const p = req.access.principal!
    const row = await createUpload(db, meta, length, { userId: p.userId, tokenId: p.tokenId })
    await createPartFile(partPath(row.id))
    req.audit.detail = { upload: row.id, bytes: length, objects: meta.count, kind: meta.kind }
    reply.header('Location', `/uploads/${row.id}`)
    reply.header('Upload-Expires', httpDate(row.expires_at))
    return reply.status(201).send()
  })

  app.head('/:id', write, async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    requireTus(req)
    const row = await load(req, req.params.id)
    if (row.state === 'failed') throw UploadErrors.gone(`failed; GET /uploads/${row.id}/result says why`)
    reply.header('Cache-Control', 'no-store')
    reply.header('Upload-Offset', String(row.upload_offset))
    reply.header('Upload-Length', String(row.upload_length))
    if (row.state === 'receiving') reply.header('Upload-Expires', httpDate(row.expires_at))
    return reply.status(200).send()
  })

  app.patch('/:id', write, async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    requireTus(req)
    const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    if (ct !== 'application/offset+octet-stream') throw UploadErrors.contentType(req.headers['content-type'] ?? '(none)')
    const offset = parseNonNegative(req.headers['upload-offset'], 'Upload-Offset')
    const checksum = parseChecksum(req.headers['upload-checksum'] as string | undefined)
    const id = req.params.id
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length'])
    // A PATCH that continues exactly where one still in progress here will end is served after it
    // (a client may send the next chunk before the answer to the previous one: no idle link meanwhile),
    // and its body is received as soon as that one's body is written: see chained().
    const ahead = inProgress.get(id)
    const mine = new Serving(declared === undefined ? -1 : offset + declared)
    inProgress.set(id, mine)
    try {
      if (ahead && ahead.end === offset) {
        if ((await ahead.received) && ahead.attach()) return await chained(req, reply, id, offset, checksum, declared, ahead, mine)
        await ahead.settled
      }
      return await patch(req, reply, id, offset, checksum, declared, mine)
    } finally {
      mine.settle()
      if (inProgress.get(id) === mine) inProgress.delete(id)
    }
  })

  async function patch(req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, id: string, offset: number, checksum: string | undefined, declared: number | undefined, mine: Serving) {
    const row = await load(req, id)
    if (row.state === 'complete') throw UploadErrors.alreadyComplete()
    if (row.state === 'failed') throw UploadErrors.gone(`failed; GET /uploads/${row.id}/result says why`)
    if (offset !== row.upload_offset) throw UploadErrors.offsetConflict(offset, row.upload_offset)
    const remaining = row.upload_length - offset
    if (declared !== undefined && declared > remaining) throw UploadErrors.pastEnd(row.upload_length)
    const lease = await acquireLease(db, id, offset)
    if (!lease) {
      const now = await getUpload(db, id)
      if (now && now.upload_offset !== offset) throw UploadErrors.offsetConflict(offset, now.upload_offset)
      throw UploadErrors.busy()
    }
    const held = { lease: lease as string | null }
    const renew = setInterval(() => void renewLease(db, id, lease).catch(() => {}), LEASE_MS / 3)
    try {
      // The whole-upload hash continues only from this process's state at exactly this offset.
      const tracked = offset === 0 || running.get(id)?.offset === offset
      mine.tracked = tracked
      // A PATCH that is not the last one may have the next one's body arrive while it is made durable.
      const onWritten = offset + (declared ?? remaining) < row.upload_length ? () => mine.written() : undefined
      const got = await appendBody(partPath(id), offset, req.body as Readable, remaining, hasher, tracked ? { id, from: offset === 0 ? 'fresh' : 'committed' } : null, { cut: true, onWritten })
      return await answer(req, reply, row, offset, checksum, got, held, mine)
    } finally {
      clearInterval(renew)
      await mine.handOver(held.lease, () => releaseLease(db, id, lease))
    }
  }

  /**
   * A PATCH that continues the body `ahead` has just written, received while `ahead` is made durable
   * and recorded (its fdatasync no longer idles the link). Nothing is decided before `ahead` is:
   * `ahead` hands its lease over (this PATCH attached before it decided, so no other process can
   * take the upload meanwhile); if `ahead` was refused, this body goes too (cut back, 409), and the
   * client sends again from the durable offset, as after any refusal.
   */
  async function chained(req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply, id: string, offset: number, checksum: string | undefined, declared: number | undefined, ahead: Serving, mine: Serving) {
    const held = { lease: null as string | null }
    let renew: NodeJS.Timeout | undefined
    let pickedUp = false
    try {
      const row = await load(req, id)
      const remaining = row.upload_length - offset
      let got: AppendOutcome | null = null
      if (row.state === 'receiving' && remaining > 0 && !(declared !== undefined && declared > remaining)) {
        mine.tracked = ahead.tracked
        const onWritten = offset + (declared ?? remaining) < row.upload_length ? () => mine.written() : undefined
        got = await appendBody(partPath(id), offset, req.body as Readable, remaining, hasher, ahead.tracked ? { id, from: 'running' } : null, { cut: false, onWritten })
      }
      await ahead.settled
      held.lease = ahead.handedOver
      pickedUp = true
      if (held.lease) {
        const lease = held.lease
        renew = setInterval(() => void renewLease(db, id, lease).catch(() => {}), LEASE_MS / 3)
      }
      if (!got || !held.lease || !ahead.accepted) {
        // Nothing of this body counts: the upload goes back to its durable offset (under the lease, so no other PATCH meanwhile).
        if (got?.tracked) hasher.discard(id)
        const now = await getUpload(db, id)
        if (held.lease && now) await cutBack(partPath(id), now.upload_offset)
        if (!got) {
          if (row.state === 'complete') throw UploadErrors.alreadyComplete()
          if (row.state === 'failed') throw UploadErrors.gone(`failed; GET /uploads/${row.id}/result says why`)
          throw UploadErrors.pastEnd(row.upload_length)
        }
        if (req.raw.socket?.destroyed !== false && got.broken === 'aborted') return reply.hijack()
        throw UploadErrors.offsetConflict(offset, now?.upload_offset ?? offset)
      }
      return await answer(req, reply, row, offset, checksum, got, held, mine)
    } finally {
      clearInterval(renew)
      // Failed before taking the lease over: it still comes here, and must not stay held.
      if (!pickedUp) {
        await ahead.settled
        held.lease = ahead.handedOver
      }
      const lease = held.lease
      await mine.handOver(lease, lease ? () => releaseLease(db, id, lease) : async () => {})
    }
  }

  /** After the body: checks it, records it (offset, whole-upload hash) and answers; completes the upload at its last byte. */
  async function answer(req: FastifyRequest, reply: FastifyReply, row: UploadRow, offset: number, checksum: string | undefined, got: AppendOutcome, held: { lease: string | null }, mine: Serving) {
    const id = row.id
    const lease = held.lease!
    const path = partPath(id)
    const refused = () => { if (got.tracked) hasher.discard(id) }
    req.audit.detail = { upload: id, bytes: got.written, objects: row.object_count }
    if (got.broken === 'aborted') {
      // Without a checksum the received prefix is good tus bytes; with one it cannot be verified.
      if (checksum || got.written === 0) {
        refused()
        await cutBack(path, offset)
      } else {
        await syncPrefix(path, offset + got.written)
        await advance(db, id, lease, offset + got.written, { release: true })
        held.lease = null
        forget(id)
      }
      req.log.warn({ upload: id, written: got.written }, 'upload PATCH broke off')
      if (req.raw.socket?.destroyed !== false) return reply.hijack()
      throw UploadErrors.badHeader('body', 'the request body ended early; send HEAD and resume from its Upload-Offset.')
    }
    if (got.broken === 'past-end') {
      refused()
      await cutBack(path, offset)
      throw UploadErrors.pastEnd(row.upload_length)
    }
    if (checksum && checksum !== got.chunkSha256) {
      refused()
      await cutBack(path, offset)
      throw got.chunkSha256 === null ? UploadErrors.unverified() : UploadErrors.checksumMismatch()
    }
    const newOffset = offset + got.written
    if (newOffset < row.upload_length) {
      // A PATCH already receiving behind this one takes the lease over; otherwise it goes with this statement.
      const pass = mine.decide()
      const expires = await advance(db, id, lease, newOffset, { release: !pass })
      if (!pass) held.lease = null
      if (got.tracked) {
        hasher.commit(id)
        running.set(id, { offset: newOffset })
      } else forget(id)
      mine.accept()
      reply.header('Upload-Offset', String(newOffset))
      reply.header('Upload-Expires', httpDate(expires))
      return reply.status(204).send()
    }
    // The completing PATCH: answered only after the whole hash is checked and every object stored.
    await advance(db, id, lease, newOffset, { state: 'processing' })
    const wholeSha256 = got.tracked ? await hasher.digest(id) : null
    forget(id)
    const t0 = performance.now()
    const done = await completeUpload(opts.archive, row, path, wholeSha256, req.access.siteBound('study:write', row.collection) ?? undefined)
    await finish(db, id, lease, done.result.state === 'failed' ? 'failed' : 'complete', done.result)
    held.lease = null
    await removePartFile(path)
    req.audit.detail = { upload: id, bytes: got.written, objects: done.result.objects.length }
    req.log.info({ upload: id, ms: Math.round(performance.now() - t0), hashedBy: done.hashedBy, objects: done.result.objects.length }, 'upload completed')
    if (done.error) throw done.error
    reply.header('Upload-Offset', String(newOffset))
    return reply.status(204).send()
  }

  app.delete('/:id', write, async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    requireTus(req)
    const row = await load(req, req.params.id)
    if (leaseLive(row)) throw UploadErrors.busy()
    await removePartFile(partPath(row.id))
    forget(row.id)
    await deleteUpload(db, row.id)
    return reply.status(204).send()
  })

  app.get('/:id/result', { ...write, schema: { response: { 200: RESULT_SCHEMA } } }, async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const row = await load(req, req.params.id)
    if (row.result) {
      const result = JSON.parse(row.result)
      req.audit.detail = { upload: row.id, objects: result.objects.length }
      return result
    }
    const base = { collection: row.collection, study: row.study_instance_uid, objects: [] }
    if (row.state === 'processing') {
      if (leaseLive(row)) return { state: 'processing', ...base }
      return { state: 'failed', ...base, reason: `The hub stopped while storing this upload; send an empty PATCH with Upload-Offset ${row.upload_length} to finish it, or upload again.` }
    }
    throw UploadErrors.incomplete(row.upload_offset, row.upload_length)
  })

  app.get('/studies/:study', { ...write, schema: { response: { 200: MANIFEST_SCHEMA } } }, async (req: FastifyRequest<{ Params: { study: string } }>) => {
    const study = await getStudy(db, req.params.study)
    if (!study) throw UploadErrors.studyNotFound(req.params.study)
    req.audit.collection = study.collection
    if (!req.access.can('study:write', study.collection)) {
      req.audit.outcome = 'denied'
      req.audit.detail = { hidden: 'study is in a collection this principal cannot write to' }
      throw UploadErrors.studyNotFound(req.params.study)
    }
    const instances = await listInstances(db, { studyInstanceUid: study.studyInstanceUid })
    const series = new Map<string, number>()
    for (const i of instances) series.set(i.seriesInstanceUid, (series.get(i.seriesInstanceUid) ?? 0) + 1)
    req.audit.detail = { objects: instances.length }
    return {
      study: study.studyInstanceUid,
      collection: study.collection,
      series: [...series].map(([seriesInstanceUid, n]) => ({ seriesInstanceUid, instances: n })),
      instances: instances.map((i) => ({ sopInstanceUid: i.sopInstanceUid, sha256: i.sha256 })),
    }
  })
}

function parseNonNegative(v: string | string[] | undefined, name: string): number {
  if (typeof v !== 'string' || !/^[0-9]{1,16}$/.test(v)) throw UploadErrors.badHeader(name, 'must be a non-negative integer.')
  const n = Number(v)
  if (!Number.isSafeInteger(n)) throw UploadErrors.badHeader(name, 'is too large.')
  return n
}

/** `Upload-Checksum: sha256 <base64>` → the base64 digest; undefined when the header is absent. */
function parseChecksum(v: string | undefined): string | undefined {
  if (v === undefined) return undefined
  const [alg, digest, ...rest] = v.trim().split(/\s+/)
  if (alg?.toLowerCase() !== 'sha256') throw UploadErrors.checksumAlgorithm(alg ?? '')
  if (!digest || rest.length || Buffer.from(digest, 'base64').length !== 32) throw UploadErrors.badHeader('Upload-Checksum', 'must be "sha256 <base64 of the 32-byte digest>".')
  return Buffer.from(digest, 'base64').toString('base64')
}

function httpDate(iso: string): string {
  return new Date(iso).toUTCString()
}

const OUTCOME = {
  type: 'object',
  required: ['sopInstanceUid', 'sha256', 'outcome'],
  properties: { sopInstanceUid: { type: 'string' }, sha256: { type: 'string' }, outcome: { type: 'string' }, reason: { type: 'string' }, slideId: { type: 'string' } },
}
const RESULT_SCHEMA = {
  type: 'object',
  required: ['state', 'collection', 'study', 'objects'],
  properties: { state: { type: 'string' }, collection: { type: 'string' }, study: { type: 'string' }, objects: { type: 'array', items: OUTCOME }, reason: { type: 'string' } },
}
const MANIFEST_SCHEMA = {
  type: 'object',
  required: ['study', 'collection', 'series', 'instances'],
  properties: {
    study: { type: 'string' },
    collection: { type: 'string' },
    series: { type: 'array', items: { type: 'object', properties: { seriesInstanceUid: { type: 'string' }, instances: { type: 'integer' } } } },
    instances: { type: 'array', items: { type: 'object', properties: { sopInstanceUid: { type: 'string' }, sha256: { type: 'string' } } } },
  },
}

/**
 * A PATCH being served in this process, as the PATCH behind it (same upload, starting where this one
 * ends) sees it. That one may receive its body as soon as this one's body is written (`received`)
 * if it `attach`es before this one has `decide`d what becomes of its lease: then the lease is
 * handed over (`handedOver`) instead of released, whatever the outcome, and `accepted` says
 * whether this one's bytes were recorded.
 */
class Serving {
  /** Whether its body reached the whole-upload hash (the one behind continues that hash only then). */
  tracked = false
  accepted = false
  handedOver: string | null = null
  readonly settled: Promise<void>
  readonly received: Promise<boolean>
  private attached = false
  private decided = false
  private doneSettled!: () => void
  private doneReceived!: (ok: boolean) => void

  constructor(readonly end: number) {
    this.settled = new Promise((ok) => (this.doneSettled = ok))
    this.received = new Promise((ok) => (this.doneReceived = ok))
  }

  /** Its whole body is written (not yet durable, not yet checked). */
  written(): void {
    this.doneReceived(true)
  }

  /** The PATCH behind it will take the lease over; false when it is too late (the lease is going). */
  attach(): boolean {
    if (this.decided) return false
    this.attached = true
    return true
  }

  /** From now on nobody attaches; true when someone did (the lease is to be handed over). */
  decide(): boolean {
    this.decided = true
    return this.attached
  }

  accept(): void {
    this.accepted = true
  }

  /** At its end: the lease it still holds goes to the PATCH behind it, or is released. */
  async handOver(lease: string | null, release: () => Promise<void>): Promise<void> {
    if (this.decide()) this.handedOver = lease
    else if (lease) await release()
  }

  settle(): void {
    this.decided = true
    this.doneReceived(false)
    this.doneSettled()
  }
}
