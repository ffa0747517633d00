/**
 * @module One spooled object through the engine (`deidentifyFile` from @kura/deid: de-identify, record pseudonyms,
 * verify independently, the same sequence as the offline `kura deid`), then either a durable
 * `clean/<sha256>.dcm` or `quarantine/<id>/` with `reason.json` (reasons only, never values). Anything unexpected
 * quarantines, because an object that is not known to be clean must never be uploaded.
 *
 * The pipeline works in batches: `deidentifyObject(..., { publish: false })` de-identifies a small object in memory
 * (`deidentifyInMemory`, the same sequence) and leaves a larger one's output in its `.tmp`; `publishClean` then
 * writes and makes a whole batch durable at once (each file's data, the renames, one folder fsync) instead of a
 * file fsync and a folder fsync per object.
 */
import { randomBytes } from 'node:crypto'
import { close, fdatasync, fsync, open, write } from 'node:fs'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readFileIfAtMost } from '@kura/core'
import { Tags, getString, type DicomDataset } from '@kura/dicom'
import { deidentifyFile, deidentifyInMemory, type Policy, type ReidTable } from '@kura/deid'
import type { Journal, RecordMeta } from '../spool/journal.ts'

export interface DeidSettings {
  policy: Policy
  secret: Uint8Array
  collection: string
  reid?: ReidTable
}

export type ObjectOutcome =
  | { kind: 'clean'; sha256: string; bytes: number; studyUid: string; seriesUid: string; sopUid: string; path: string; tmp?: string; data?: Uint8Array }
  | { kind: 'quarantined'; reason: string; dir: string }

/**
 * A clean outcome not yet published: its output is at `tmp` (written, not flushed) or, for a small object, only in
 * `data` (written by `publishClean`, off the main thread).
 */
export type UnpublishedClean = Extract<ObjectOutcome, { kind: 'clean' }> & { tmp: string }

/** Inputs up to this size are de-identified in memory and their output written by `publishClean` (a batch holds at most OBJECT_BATCH of them). */
export const IN_MEMORY_BYTES = 1 << 20

export interface ObjectWriteOptions {
  /**
   * Flush the clean output and rename it into place before returning (default true). The pipeline passes false
   * and publishes a whole batch with `publishClean` before it records any of it.
   */
  publish?: boolean
}

/** Creates `path` ('wx', 0600) with `data`, fdatasync, close: three thread-pool calls, nothing on the main thread. */
function writeSynced(path: string, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    open(path, 'wx', 0o600, (e, fd) => {
      if (e) return reject(e)
      const fail = (err: unknown) => close(fd, () => reject(err))
      const rest = (off: number): void => {
        if (off >= data.length) return void fdatasync(fd, (err) => (err ? fail(err) : close(fd, (c) => (c ? reject(c) : resolve()))))
        write(fd, data, off, data.length - off, null, (err, n) => (err ? fail(err) : rest(off + n)))
      }
      rest(0)
    })
  })
}

/** fdatasync (a file) or fsync (a folder) by path, with callback calls: fewer objects than FileHandle for many files. */
function syncPath(path: string, folder: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    open(path, 'r', (e, fd) => {
      if (e) return reject(e)
      const done = (err: NodeJS.ErrnoException | null) => close(fd, () => (err ? reject(err) : resolve()))
      if (folder) fsync(fd, done)
      else fdatasync(fd, done)
    })
  })
}

/**
 * Concurrent file flushes: enough to overlap the disk's latency, few enough that the DICOM source's own fdatasync
 * (same libuv thread pool, 4 threads) never waits behind a whole batch before its C-STORE-RSP.
 */
const FLUSH_LANES = 2

/**
 * Publishes clean outputs durably. With a `journal`, outputs held in memory are appended to it (unless it holds that
 * content already) and one flush covers them all: no file, fsync, rename or folder fsync each. Other outputs are
 * files: every file's data first, then the renames to `clean/<sha256>.dcm`, then one fsync of the folder (it covers
 * every rename in it). Data before rename, so a name never points at data a power loss could lose, even when it
 * replaces a committed file of the same content. `beforeRename` sees each SHA-256 before it is appended or its name
 * appears (and may wait). On error the temporary files are removed and the error thrown (nothing was recorded).
 */
export async function publishClean(cleanDir: string, all: readonly UnpublishedClean[], beforeRename?: (sha256: string) => Promise<void> | void, journal?: Journal<RecordMeta>): Promise<void> {
  if (all.length === 0) return
  const outs = journal ? all.filter((o) => !o.data) : all
  try {
    if (journal && outs.length < all.length) {
      for (const o of all) {
        if (!o.data) continue
        await beforeRename?.(o.sha256)
        if (!journal.has(o.sha256)) journal.append({ id: o.sha256, bytes: o.bytes, sha256: o.sha256 }, o.data)
      }
      await journal.flush()
    }
    if (outs.length === 0) return
    let next = 0
    const lane = async () => {
      while (next < outs.length) {
        const o = outs[next++]!
        if (o.data) await writeSynced(o.tmp, o.data)
        else await syncPath(o.tmp, false)
      }
    }
    await Promise.all(Array.from({ length: Math.min(FLUSH_LANES, outs.length) }, lane))
    for (const o of outs) {
      await beforeRename?.(o.sha256)
      await rename(o.tmp, o.path)
    }
    await syncPath(cleanDir, true)
  } catch (e) {
    await Promise.all(outs.map((o) => rm(o.tmp, { force: true }).catch(() => {})))
    throw e
  }
}

const text = (ds: DicomDataset, tag: number) => (getString(ds, tag) ?? '').replace(/^[ \0]+|[ \0]+$/g, '')

const NO_UIDS = 'the object has no Study, Series or SOP Instance UID; the hub cannot index it'

function uidsOf(ds: DicomDataset): { studyUid: string; seriesUid: string; sopUid: string } | null {
  const studyUid = text(ds, Tags.StudyInstanceUID)
  const seriesUid = text(ds, Tags.SeriesInstanceUID)
  const sopUid = text(ds, Tags.SOPInstanceUID)
  return studyUid && seriesUid && sopUid ? { studyUid, seriesUid, sopUid } : null
}

/** Temporary names: unique in this process by the count, across runs by the prefix (a random call per object cost more). */
const TMP_PREFIX = `${randomBytes(8).toString('hex')}-`
let tmpCount = 0

/**
 * De-identifies `input` (object `id`: its file, or its bytes from the spool's journal) into `spoolDir`. Never throws
 * for a bad object (it is quarantined); throws only when the spool itself cannot be written (disk full,
 * permissions), so the caller retries later.
 */
export async function deidentifyObject(spoolDir: string, id: string, input: string | Uint8Array, s: DeidSettings, w: ObjectWriteOptions = {}): Promise<ObjectOutcome> {
  const publish = w.publish ?? true
  const cleanDir = join(spoolDir, 'clean')
  const tmp = join(cleanDir, `${TMP_PREFIX}${++tmpCount}.tmp`)
  let keepTmp = false
  const quarantine = async (reason: string, findings: unknown[] = [], output?: string): Promise<ObjectOutcome> => {
    const dir = join(spoolDir, 'quarantine', id)
    await mkdir(dir, { recursive: true })
    if (output) await rename(output, join(dir, 'output.dcm'))
    const report = { id, reason, policy: { id: s.policy.id, version: s.policy.version }, collection: s.collection, findings, at: new Date().toISOString() }
    await writeFile(join(dir, 'reason.json'), JSON.stringify(report, null, 2) + '\n', { mode: 0o600 })
    // The source stays on site beside the reason, so an operator can re-run it under a corrected policy.
    if (typeof input === 'string') await rename(input, join(dir, 'source.dcm')).catch(() => {})
    else await writeFile(join(dir, 'source.dcm'), input, { mode: 0o600 })
    return { kind: 'quarantined', reason, dir }
  }

  try {
    const small = typeof input !== 'string' ? input : publish ? null : readFileIfAtMost(input, IN_MEMORY_BYTES)
    if (small) {
      const r = await deidentifyInMemory(small, s)
      if (r.kind === 'unreadable' || r.kind === 'failed') return await quarantine(r.reason)
      const uids = uidsOf(r.written.dataset)
      const reason = r.findings.length > 0 ? r.findings.map((f) => f.reason).join('; ') : !uids ? NO_UIDS : null
      if (reason) {
        await writeFile(tmp, r.output, { mode: 0o600, flag: 'wx' })
        return await quarantine(reason, r.findings.map((f) => ({ path: f.path, keyword: f.keyword, kind: f.kind, reason: f.reason })), tmp)
      }
      const out: UnpublishedClean = { kind: 'clean', sha256: r.sha256, bytes: r.output.length, ...uids!, path: join(cleanDir, `${r.sha256}.dcm`), tmp, data: r.output }
      if (!publish) {
        keepTmp = true
        return out
      }
      await publishClean(cleanDir, [out])
      return { ...out, tmp: undefined, data: undefined }
    }
    // Bytes always take the in-memory branch above; only a file too large for it comes here.
    const r = await deidentifyFile(input as string, tmp, { policy: s.policy, secret: s.secret, collection: s.collection, reid: s.reid, durable: publish })
    if (r.kind === 'unreadable' || r.kind === 'failed') return await quarantine(r.reason)
    if (r.kind === 'quarantined') {
      return await quarantine(r.findings.map((f) => f.reason).join('; '), r.findings.map((f) => ({ path: f.path, keyword: f.keyword, kind: f.kind, reason: f.reason })), tmp)
    }
    const uids = uidsOf(r.written.dataset)
    if (!uids) return await quarantine(NO_UIDS, [], tmp)
    const out: UnpublishedClean = { kind: 'clean', sha256: r.sha256, bytes: r.bytes, ...uids, path: join(cleanDir, `${r.sha256}.dcm`), tmp }
    if (!publish) {
      keepTmp = true
      return out
    }
    // deidentifyFile flushed the data (durable); the rename is made durable by the folder's fsync.
    await rename(tmp, out.path)
    await syncPath(cleanDir, true)
    return { ...out, tmp: undefined }
  } finally {
    if (!keepTmp) await rm(tmp, { force: true })
  }
}
