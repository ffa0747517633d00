/**
 * @module Completing an upload: check the whole upload's SHA-256, then store every object
 * through the archive (a single Part 10 object, or each entry of a ustar bundle) and collect
 * one outcome per object. Runs before the completing PATCH is answered, so its 204 means
 * "stored and indexed".
 */
import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { createHash } from 'node:crypto'
import { FileSource, KuraError, type ByteSource } from '@kura/core'
import type { Archive, IngestResult } from '../archive/archive.ts'
import { completeSlideUpload } from '../slides/upload-complete.ts'
import { UploadErrors } from './errors.ts'
import { hashFile } from './part-file.ts'
import { RangeSource } from './range-source.ts'
import { readTarIndex, TarError, type TarEntry } from './ustar.ts'
import type { UploadRow } from './upload-state.ts'

export type ObjectOutcome = {
  sopInstanceUid: string
  sha256: string
  outcome: 'stored' | 'duplicate' | 'conflict' | 'rejected' | 'quarantined'
  reason?: string
}

export interface UploadResult {
  state: 'complete' | 'processing' | 'failed'
  collection: string
  study: string
  objects: ObjectOutcome[]
  /** Why the upload as a whole failed (failed only). */
  reason?: string
}

export interface Completion {
  result: UploadResult
  /** The error the completing PATCH answers with, when the upload failed as a whole. */
  error?: KuraError
  /** Where the whole-upload SHA-256 came from (for the log and the benchmark). */
  hashedBy: 'running' | 're-read'
}

/** Objects up to this size are read into memory once (hash, then ingest), like the archive's own receive. */
const IN_MEMORY = 16 * 1024 * 1024
/** Bundle entries stored at once: the catalog write is the slow part, PostgreSQL takes several. */
const PIPELINE = 4
const NAME = /^([0-9a-f]{64})\.dcm$/

export async function completeUpload(archive: Archive, row: UploadRow, partPath: string, runningSha256: string | null, site?: string): Promise<Completion> {
  const base = { collection: row.collection, study: row.study_instance_uid }
  const hashedBy = runningSha256 ? 'running' : 're-read'
  const sha256 = runningSha256 ?? (await hashFile(partPath))
  const fail = (error: KuraError): Completion => ({ result: { state: 'failed', ...base, objects: [], reason: error.message }, error, hashedBy })
  if (sha256 !== row.sha256) return fail(UploadErrors.sha256Mismatch(row.sha256, sha256))

  if (row.kind === 'slide' || row.kind === 'slide-dicom') {
    // A slide from a gateway (de-identified there): one outcome for the whole slide.
    const outcome = await completeSlideUpload(archive, row.kind, row.collection, partPath, sha256, row.upload_length)
    return { result: { state: 'complete', ...base, objects: [outcome] }, hashedBy }
  }

  if (row.kind === 'dicom') {
    // The part file is the object, hash checked: it moves into the store without another copy.
    const source = row.upload_length <= IN_MEMORY ? await readFile(partPath) : { path: partPath, sha256, size: row.upload_length }
    const r = await archive.ingest({ source, collection: row.collection, studyInstanceUid: row.study_instance_uid, site })
    return { result: { state: 'complete', ...base, objects: [outcomeOf(r, sha256)] }, hashedBy }
  }

  const file = await FileSource.open(partPath)
  try {
    let entries: TarEntry[]
    try {
      entries = await readTarIndex(file)
    } catch (e) {
      if (e instanceof TarError) return fail(UploadErrors.badBundle(e.message))
      throw e
    }
    if (entries.length !== row.object_count) return fail(UploadErrors.countMismatch(row.object_count, entries.length))
    const objects: ObjectOutcome[] = new Array(entries.length)
    let next = 0
    const worker = async () => {
      while (next < entries.length) {
        const i = next++
        objects[i] = await storeEntry(archive, file, entries[i]!, row, site)
      }
    }
    await Promise.all(Array.from({ length: Math.min(PIPELINE, entries.length) }, worker))
    return { result: { state: 'complete', ...base, objects }, hashedBy }
  } finally {
    await file.close()
  }
}

async function storeEntry(archive: Archive, file: FileSource, entry: TarEntry, row: UploadRow, site: string | undefined): Promise<ObjectOutcome> {
  const m = NAME.exec(basename(entry.name))
  const named = m?.[1] ?? ''
  if (!m) return { sopInstanceUid: '', sha256: named, outcome: 'rejected', reason: `Bundle entry "${entry.name.slice(0, 100)}" is not named <sha256 hex>.dcm; it was not stored.` }
  const src = new RangeSource(file, entry.offset, entry.size)
  let source: Uint8Array | ReturnType<typeof createReadStream>
  let actual: string
  if (entry.size <= IN_MEMORY) {
    source = await src.read(0, entry.size)
    actual = createHash('sha256').update(source).digest('hex')
  } else {
    actual = await hashRange(src)
    source = createReadStream(file.path, { start: entry.offset, end: entry.offset + entry.size - 1, highWaterMark: 1024 * 1024 })
  }
  // The whole bundle's hash was right, so a wrong name is the sender's mistake: refuse, never guess.
  if (actual !== named) return { sopInstanceUid: '', sha256: named, outcome: 'rejected', reason: `Bundle entry ${entry.name.slice(0, 100)} has SHA-256 ${actual}, not the one its name gives; it was not stored.` }
  return outcomeOf(await archive.ingest({ source, collection: row.collection, studyInstanceUid: row.study_instance_uid, site }), actual)
}

async function hashRange(src: ByteSource): Promise<string> {
  const h = createHash('sha256')
  const step = 4 * 1024 * 1024
  for (let at = 0; at < src.size; at += step) h.update(await src.read(at, step))
  return h.digest('hex')
}

function outcomeOf(r: IngestResult, sha256: string): ObjectOutcome {
  if (!('code' in r)) return { sopInstanceUid: r.sopInstanceUid, sha256, outcome: r.status }
  // A de-identified collection's receipt check keeps the object in the hub's quarantine.
  const outcome = r.code === 'HUB_QUARANTINED' ? 'quarantined' : r.status
  return { sopInstanceUid: r.sopInstanceUid ?? '', sha256, outcome, reason: `${r.code}: ${r.reason}` }
}
