/**
 * @module Completing an upload: check the whole upload's SHA-256, then store every object
 * through the archive (a single Part 10 object, or each entry of a ustar bundle) and collect
 * one outcome per object. Runs before the completing PATCH is answered, so its 204 means
 * "stored and indexed". A bundle's small entries go to the archive in groups (Archive.ingestMany), so the
 * catalog work is paid per group; a large entry is streamed alone.
 */
import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { createHash } from 'node:crypto'
import { FileSource, KuraError, SliceSource, type ByteSource } from '@kura/core'
import type { Archive, IngestInput, IngestResult } from '../archive/archive.ts'
import { completeSlideUpload } from '../slides/upload-complete.ts'
import { UploadErrors } from './errors.ts'
import { hashFile } from './part-file.ts'
import { ReadAhead } from './read-ahead.ts'
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
/** Entries per ingestMany call (the catalog writes them as one batch) and the bytes they may span: bounds what is held at once. */
export const GROUP = 128
export const GROUP_BYTES = 32 * 1024 * 1024
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
    // Either way its hash is the whole upload's, just checked: the archive does not hash it again.
    const source = row.upload_length <= IN_MEMORY ? { bytes: await readFile(partPath), sha256 } : { path: partPath, sha256, size: row.upload_length }
    const r = await archive.ingest({ source, collection: row.collection, studyInstanceUid: row.study_instance_uid, site })
    return { result: { state: 'complete', ...base, objects: [outcomeOf(r, sha256)] }, hashedBy }
  }

  const file = await FileSource.open(partPath)
  try {
    let entries: TarEntry[]
    try {
      entries = await readTarIndex(new ReadAhead(file))
    } catch (e) {
      if (e instanceof TarError) return fail(UploadErrors.badBundle(e.message))
      throw e
    }
    if (entries.length !== row.object_count) return fail(UploadErrors.countMismatch(row.object_count, entries.length))
    const objects: ObjectOutcome[] = new Array(entries.length)
    for (let i = 0; i < entries.length; ) {
      if (entries[i]!.size > IN_MEMORY) {
        objects[i] = await storeEntry(archive, file, entries[i]!, row, site)
        i++
        continue
      }
      const end = groupEnd(entries, i)
      await storeGroup(archive, file, entries, i, end, row, site, objects)
      i = end
    }
    return { result: { state: 'complete', ...base, objects }, hashedBy }
  } finally {
    await file.close()
  }
}

/** Where the group of small entries starting at `from` ends: at most GROUP entries spanning at most GROUP_BYTES. */
export function groupEnd(entries: TarEntry[], from: number): number {
  const start = entries[from]!.offset
  let end = from + 1
  while (end < entries.length && end - from < GROUP) {
    const e = entries[end]!
    if (e.size > IN_MEMORY || e.offset + e.size - start > GROUP_BYTES) break
    end++
  }
  return end
}

/**
 * Entries [from, end) of a bundle (consecutive in the file): read in one piece, each entry a view of it (no
 * copy), hashed once (its name is checked, and the archive trusts that hash), and stored through ingestMany,
 * so the catalog lookups and writes are paid per group, not per object.
 */
async function storeGroup(archive: Archive, file: FileSource, entries: TarEntry[], from: number, end: number, row: UploadRow, site: string | undefined, objects: ObjectOutcome[]): Promise<void> {
  const start = entries[from]!.offset
  const last = entries[end - 1]!
  const span = await file.read(start, last.offset + last.size - start)
  const inputs: IngestInput[] = []
  const slots: number[] = []
  for (let i = from; i < end; i++) {
    const entry = entries[i]!
    const bytes = span.subarray(entry.offset - start, entry.offset - start + entry.size)
    const checked = checkEntry(entry, createHash('sha256').update(bytes).digest('hex'))
    if ('outcome' in checked) {
      objects[i] = checked
      continue
    }
    inputs.push({ source: { bytes, sha256: checked.sha256 }, collection: row.collection, studyInstanceUid: row.study_instance_uid, site })
    slots.push(i)
  }
  const results = await archive.ingestMany(inputs)
  results.forEach((r, k) => (objects[slots[k]!] = outcomeOf(r, (inputs[k]!.source as { sha256: string }).sha256)))
}

/** The entry's hash against its name: the hash, or the outcome that refuses it. */
function checkEntry(entry: TarEntry, actual: string): { sha256: string } | ObjectOutcome {
  const m = NAME.exec(basename(entry.name))
  const named = m?.[1] ?? ''
  if (!m) return { sopInstanceUid: '', sha256: named, outcome: 'rejected', reason: `Bundle entry "${entry.name.slice(0, 100)}" is not named <sha256 hex>.dcm; it was not stored.` }
  // The whole bundle's hash was right, so a wrong name is the sender's mistake: refuse, never guess.
  if (actual !== named) return { sopInstanceUid: '', sha256: named, outcome: 'rejected', reason: `Bundle entry ${entry.name.slice(0, 100)} has SHA-256 ${actual}, not the one its name gives; it was not stored.` }
  return { sha256: actual }
}

/** A large entry (past IN_MEMORY): hashed, then streamed into the archive alone. */
async function storeEntry(archive: Archive, file: FileSource, entry: TarEntry, row: UploadRow, site: string | undefined): Promise<ObjectOutcome> {
  if (!NAME.test(basename(entry.name))) return checkEntry(entry, '') as ObjectOutcome
  const checked = checkEntry(entry, await hashRange(new SliceSource(file, entry.offset, entry.size, { owns: false })))
  if ('outcome' in checked) return checked
  const source = createReadStream(file.path, { start: entry.offset, end: entry.offset + entry.size - 1, highWaterMark: 1024 * 1024 })
  return outcomeOf(await archive.ingest({ source, collection: row.collection, studyInstanceUid: row.study_instance_uid, site }), checked.sha256)
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
