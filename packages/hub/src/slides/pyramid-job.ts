/**
 * @module The `slide.pyramid` job: builds the levels a stored slide lacks (see @kura/wsi's pyramid/build.ts) once,
 * after the store, on a queue worker. The derived file is stored content-addressed beside the slide and recorded
 * in `slide_derivative`; the serving layer then shows the slide with a full pyramid. Until it exists the slide is
 * still viewable at full resolution.
 *
 * libvips reads TIFF-family slides itself. A DICOM WSI (which libvips cannot read) has its smallest level copied
 * through our reader into a temporary tiled TIFF first (range reads over its instances, a few tiles in memory);
 * the derived levels then start at half that level, and `combineLevels` places them by their size.
 */
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { FileSource, newId } from '@kura/core'
import { buildPyramidTiff, needsPyramid, openDicomSlide, openSlide, writeLevelTiff, type Level, type SlideFormatName } from '@kura/wsi'
import type { Archive } from '../archive/archive.ts'
import { findSlide, type SlideRow } from './catalog.ts'
import { DICOM_SLIDE_KEY_PREFIX } from './upload.ts'

export const SLIDE_PYRAMID_JOB = 'slide.pyramid'

export interface PyramidPayload {
  slideId: string
}

/** Queues the pyramid job for a slide that needs one (idempotent per slide). */
export async function enqueuePyramid(archive: Archive, slideId: string, levels: readonly Level[]): Promise<void> {
  if (!needsPyramid(levels)) return
  await archive.jobs.enqueue(SLIDE_PYRAMID_JOB, { slideId } satisfies PyramidPayload, { singletonKey: `${SLIDE_PYRAMID_JOB}:${slideId}`, maxAttempts: 3 })
}

export function pyramidJob(archive: Archive, tmpDir: string) {
  return async ({ slideId }: PyramidPayload): Promise<void> => {
    const db = archive.catalog.db
    const row = await findSlide(db, slideId)
    if (!row) return // deleted since
    if (await db.selectFrom('slide_derivative').select('slide_id').where('slide_id', '=', slideId).where('kind', '=', 'pyramid').executeTakeFirst()) return
    await mkdir(tmpDir, { recursive: true })
    const work = join(tmpDir, `pyramid-${newId()}`)
    const out = `${work}.tiff`
    try {
      if (row.object_key.startsWith(DICOM_SLIDE_KEY_PREFIX)) {
        const level = await dicomLevelAsTiff(archive, row, `${work}.src`)
        await buildPyramidTiff(`${work}.src`, out, 'generic-tiff', level.width, level.height)
      } else {
        // libvips reads a file: the stored one where the store keeps files, else a temporary copy (S3).
        let input = archive.objects.localPath(row.object_key)
        if (!input) {
          input = `${work}.src`
          await pipeline(await archive.objects.get(row.object_key), createWriteStream(input))
        }
        await buildPyramidTiff(input, out, row.format as SlideFormatName, Number(row.width), Number(row.height))
      }
      const hash = createHash('sha256')
      let size = 0
      for await (const chunk of createReadStream(out)) {
        hash.update(chunk)
        size += chunk.length
      }
      const sha256 = hash.digest('hex')
      const src = await FileSource.open(out)
      let levels: readonly Level[]
      try {
        levels = (await openSlide(src)).levels
      } finally {
        await src.close()
      }
      const objectKey = `slides/derived/${sha256}`
      await archive.objects.putFile(objectKey, out, { sha256, move: true, verified: true })
      await db
        .insertInto('slide_derivative')
        .values({ slide_id: slideId, kind: 'pyramid', object_key: objectKey, sha256, size, levels: JSON.stringify(levels), created_at: new Date().toISOString() })
        .onConflict((oc) => oc.doNothing())
        .execute()
    } finally {
      await rm(out, { force: true })
      await rm(`${work}.src`, { force: true })
    }
  }
}

/** The smallest level of a stored DICOM WSI, as a tiled TIFF at `path` (its instances read by range, never copied). */
async function dicomLevelAsTiff(archive: Archive, row: SlideRow, path: string): Promise<{ width: number; height: number }> {
  const keys = (await archive.catalog.db.selectFrom('slide_instance').select('object_key').where('slide_id', '=', row.id).orderBy('object_key').execute()).map((r) => r.object_key)
  const sources = []
  try {
    for (const k of keys) sources.push(await archive.objects.source(k))
  } catch (e) {
    await Promise.all(sources.map((s) => s.close().catch(() => {})))
    throw e
  }
  let slide
  try {
    slide = await openDicomSlide(sources)
  } catch (e) {
    await Promise.all(sources.map((s) => s.close().catch(() => {})))
    throw e
  }
  try {
    return await writeLevelTiff(slide, slide.levels.length - 1, path)
  } finally {
    await slide.close()
  }
}
