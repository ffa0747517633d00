/**
 * @module Storing a slide: the body is streamed to a temp file while hashed (never held whole in
 * memory), opened with the slide reader to check it and read its metadata, then moved into the
 * object store (`slides/<sha256>`) before its catalog row is written, so a crash in between leaves
 * at most an unreferenced object, never a row without bytes. A file the reader refuses leaves
 * nothing behind.
 */
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { FileSource, isKuraError, newId } from '@kura/core'
import { openSlide, type Level, type Slide } from '@kura/wsi'
import type { Archive } from '../archive/archive.ts'
import { findSlide, slideQuery, type SlideRow } from './catalog.ts'
import { SlideErrors } from './errors.ts'
import { enqueuePyramid } from './pyramid-job.ts'

export interface StoreResult {
  status: 'stored' | 'duplicate'
  row: SlideRow
}

export async function storeSlide(archive: Archive, tmpDir: string, collection: { id: string; name: string; deidentified?: boolean }, body: Readable): Promise<StoreResult> {
  await mkdir(tmpDir, { recursive: true })
  const path = join(tmpDir, `slide-${newId()}`)
  try {
    const hash = createHash('sha256')
    let size = 0
    try {
      await pipeline(
        body,
        async function* (src: AsyncIterable<Buffer>) {
          for await (const chunk of src) {
            hash.update(chunk)
            size += chunk.length
            yield chunk
          }
        },
        createWriteStream(path),
      )
    } catch (e) {
      throw SlideErrors.receiveFailed((e as Error)?.message ?? String(e))
    }
    if (size === 0) throw SlideErrors.emptyBody()
    const sha256 = hash.digest('hex')

    // Same bytes into the same collection: the slide that is already there.
    const existing = await slideQuery(archive.catalog.db).where('s.collection_id', '=', collection.id).where('s.sha256', '=', sha256).executeTakeFirst()
    if (existing) return { status: 'duplicate', row: existing }

    const meta = await describe(path)
    // A label or macro image shows the patient's name and ID on most scanners. Until slides are
    // de-identified on the gateway, a de-identified collection refuses them rather than guess.
    const pictures = (JSON.parse(meta.associated) as Array<{ name: string }>).map((a) => a.name).filter((n) => n === 'label' || n === 'macro')
    if (collection.deidentified && pictures.length) throw SlideErrors.identifyingImages(collection.name, pictures)
    const objectKey = `slides/${sha256}`
    await archive.objects.putFile(objectKey, path, { sha256, move: true, verified: true })
    const id = newId()
    try {
      await archive.catalog.db
        .insertInto('slide')
        .values({
          id,
          collection_id: collection.id,
          sha256,
          object_key: objectKey,
          size,
          ...meta,
          created_at: new Date().toISOString(),
        })
        .execute()
    } catch (e) {
      // Another request stored the same bytes between our lookup and insert: theirs stands.
      const raced = await slideQuery(archive.catalog.db).where('s.collection_id', '=', collection.id).where('s.sha256', '=', sha256).executeTakeFirst()
      if (raced) return { status: 'duplicate', row: raced }
      throw e
    }
    // Zoomed-out views of a slide without small levels need them built (the serving layer queues it again if this is lost).
    await enqueuePyramid(archive, id, JSON.parse(meta.levels) as Level[])
    return { status: 'stored', row: (await findSlide(archive.catalog.db, id))! }
  } finally {
    await rm(path, { force: true })
  }
}

/** Opens the file with the slide reader and decodes one tile: a file it refuses is answered with the reader's reason. */
async function describe(path: string) {
  let slide: Slide
  try {
    slide = await openSlide(await FileSource.open(path))
  } catch (e) {
    if (isKuraError(e) && e.code.startsWith('WSI_')) throw SlideErrors.notASlide(e.code, e.message)
    throw e
  }
  try {
    const last = slide.levels.length - 1
    try {
      await slide.tilePixels(last, 0, 0)
    } catch (e) {
      // A tile the scanner skipped is normal; a tile that cannot be decoded means we cannot serve it.
      if (!(isKuraError(e) && e.code === 'WSI_TILE_MISSING')) {
        if (isKuraError(e) && e.code.startsWith('WSI_')) throw SlideErrors.notASlide(e.code, e.message)
        throw e
      }
    }
    const associated = await Promise.all([...slide.associated].map(async ([name, a]) => ({ name, width: a.width, height: a.height })))
    const l0 = slide.levels[0]!
    return {
      format: slide.format,
      width: l0.width,
      height: l0.height,
      levels: JSON.stringify(slide.levels.map((l) => ({ width: l.width, height: l.height, tileWidth: l.tileWidth, tileHeight: l.tileHeight, downsample: l.downsample }))),
      mpp_x: slide.mpp?.x ?? null,
      mpp_y: slide.mpp?.y ?? null,
      objective_power: slide.objectivePower ?? null,
      properties: JSON.stringify(slide.properties),
      associated: JSON.stringify(associated),
    }
  } finally {
    await slide.close()
  }
}
