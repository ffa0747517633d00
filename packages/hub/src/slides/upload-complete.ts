/**
 * @module A finished gateway upload that holds a slide (docs/upload-protocol.md, kinds `slide` and `slide-dicom`):
 * the part file (whole-upload SHA-256 already checked) becomes a slide of the upload's collection. A slide file
 * moves into the store without another copy; a DICOM WSI's instances are cut out of the ustar one by one (each
 * checked against the SHA-256 its name gives) and stored as one slide. One outcome, for the slide as a whole.
 */
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { basename } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { FileSource, isKuraError } from '@kura/core'
import type { Archive } from '../archive/archive.ts'
import { readTarIndex, TarError } from '../uploads/ustar.ts'
import { SlideErrors } from './errors.ts'
import { storeDicomSlide, storeSlideFile, type SlideCollection, type SlideInstanceFile } from './upload.ts'

export interface SlideUploadOutcome {
  /** Empty: a slide has no single SOP Instance UID (the result schema is shared with DICOM uploads). */
  sopInstanceUid: string
  sha256: string
  outcome: 'stored' | 'duplicate' | 'rejected'
  reason?: string
  /** The slide's id on this hub (kept in the stored result). */
  slideId?: string
}

const MEMBER = /^([0-9a-f]{64})\.dcm$/

export async function completeSlideUpload(archive: Archive, kind: 'slide' | 'slide-dicom', collectionName: string, partPath: string, sha256: string, size: number): Promise<SlideUploadOutcome> {
  const refuse = (e: unknown): SlideUploadOutcome => {
    if (isKuraError(e) && e.status < 500) return { sopInstanceUid: '', sha256, outcome: 'rejected', reason: `${e.code}: ${e.message}` }
    throw e
  }
  try {
    const c = await archive.catalog.db.selectFrom('collection').select(['id', 'name', 'deidentified']).where('name', '=', collectionName).executeTakeFirst()
    if (!c) throw SlideErrors.collectionNotFound(collectionName)
    const collection: SlideCollection = { id: c.id, name: c.name, deidentified: c.deidentified === 1 }
    const r = kind === 'slide'
      ? await storeSlideFile(archive, collection, { path: partPath, sha256, size }, { move: true })
      : await storeTarSlide(archive, collection, partPath)
    return { sopInstanceUid: '', sha256, outcome: r.status, slideId: r.row.id }
  } catch (e) {
    return refuse(e)
  }
}

/** The instances of a `slide-dicom` upload, each written beside the part file, then stored as one slide (moved in). */
async function storeTarSlide(archive: Archive, collection: SlideCollection, partPath: string) {
  const dir = `${partPath}.instances`
  await mkdir(dir, { recursive: true })
  const src = await FileSource.open(partPath)
  try {
    let entries
    try {
      entries = await readTarIndex(src)
    } catch (e) {
      if (e instanceof TarError) throw SlideErrors.badTar(e.message)
      throw e
    }
    if (entries.length === 0) throw SlideErrors.noInstances()
    const files: SlideInstanceFile[] = []
    for (const [i, entry] of entries.entries()) {
      const named = MEMBER.exec(basename(entry.name))?.[1]
      if (!named) throw SlideErrors.badTar(`member "${entry.name.slice(0, 100)}" is not named <sha256 hex>.dcm`)
      if (entry.size === 0) throw SlideErrors.badTar(`member ${entry.name.slice(0, 100)} is empty`)
      const path = `${dir}/${String(i).padStart(5, '0')}.dcm`
      const hash = createHash('sha256')
      await pipeline(
        createReadStream(partPath, { start: entry.offset, end: entry.offset + entry.size - 1, highWaterMark: 1 << 20 }),
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            hash.update(chunk)
            yield chunk
          }
        },
        createWriteStream(path),
      )
      const actual = hash.digest('hex')
      if (actual !== named) throw SlideErrors.badTar(`member ${entry.name.slice(0, 100)} has SHA-256 ${actual}, not the one its name gives`)
      files.push({ name: entry.name, path, sha256: actual, size: entry.size })
    }
    return await storeDicomSlide(archive, collection, files, { move: true })
  } finally {
    await src.close()
    await rm(dir, { recursive: true, force: true })
  }
}
