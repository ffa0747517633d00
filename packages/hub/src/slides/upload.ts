/**
 * @module Storing a slide: the body is streamed to a temp file while hashed (never held whole in
 * memory), opened with the slide reader to check it and read its metadata, then moved into the
 * object store (`slides/<sha256>`) before its catalog row is written, so a crash in between leaves
 * at most an unreferenced object, never a row without bytes. A file the reader refuses leaves
 * nothing behind. A DICOM WSI (a set of instances) is stored the same way, each instance its own
 * object listed in `slide_instance`; its identity is the SHA-256 over its instances' sorted hashes.
 */
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { FileSource, isKuraError, newId } from '@kura/core'
import { getString, getStrings } from '@kura/dicom'
import { verifySlideOutput } from '@kura/deid'
import { openDicomSlide, openSlide, TiffFile, type Level, type Slide } from '@kura/wsi'
import type { Archive } from '../archive/archive.ts'
import { readForCheck, receiptFindings } from '../archive/receipt-check.ts'
import { findSlide, slideQuery, type SlideRow } from './catalog.ts'
import { SlideErrors } from './errors.ts'
import { enqueuePyramid } from './pyramid-job.ts'
import { spoolTar } from './tar-body.ts'

/** The `object_key` of a slide made of instances: a name for the set (the objects are its `slide_instance` rows). */
export const DICOM_SLIDE_KEY_PREFIX = 'slides/dicom-wsi/'

export interface SlideCollection {
  id: string
  name: string
  deidentified?: boolean
}

export interface StoreResult {
  status: 'stored' | 'duplicate'
  row: SlideRow
}

export async function storeSlide(archive: Archive, tmpDir: string, collection: SlideCollection, body: Readable): Promise<StoreResult> {
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
    return await storeSlideFile(archive, collection, { path, sha256: hash.digest('hex'), size }, { move: true })
  } finally {
    await rm(path, { force: true })
  }
}

/**
 * Whether the slide's macro was kept by the gateway with its label area blacked out (policy `slides.macro`):
 * @kura/deid (slides/keep-macro.ts) names the area in the macro's ImageDescription ("label area x,y,w,h blacked
 * out by KURA <policy> <version>"). The claim is not trusted: the area must decode black and no label may remain.
 */
async function blackedOutMacro(path: string): Promise<boolean> {
  let rect: [number, number, number, number] | undefined
  const fs = await FileSource.open(path)
  try {
    for (const ifd of (await TiffFile.open(fs)).ifds) {
      const m = /label area (\d+),(\d+),(\d+),(\d+) blacked out by KURA /.exec((await ifd.string(270)) ?? '')
      if (m) rect = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])]
    }
  } catch {
    return false
  } finally {
    await fs.close()
  }
  if (!rect) return false
  const src = await FileSource.open(path)
  try {
    const v = await verifySlideOutput(src, path, { removed: ['label'], scrubProperties: false, identifiers: [], keptMacro: { rect }, tilesPerLevel: 0 })
    return v.findings.length === 0
  } catch {
    return false
  } finally {
    await src.close()
  }
}

/**
 * Stores a slide file already on this machine whose SHA-256 is known (a finished gateway upload, a received body).
 * `move`: the file is the caller's temporary copy and moves into the store; otherwise it is copied.
 */
export async function storeSlideFile(archive: Archive, collection: SlideCollection, file: { path: string; sha256: string; size: number }, opts: { move: boolean }): Promise<StoreResult> {
  const { path, sha256, size } = file
  {
    // Same bytes into the same collection: the slide that is already there.
    const existing = await slideQuery(archive.catalog.db).where('s.collection_id', '=', collection.id).where('s.sha256', '=', sha256).executeTakeFirst()
    if (existing) return { status: 'duplicate', row: existing }

    const meta = await describe(async () => openSlide(await FileSource.open(path)))
    // A label or macro image shows the patient's name and ID on most scanners: a de-identified collection
    // refuses them rather than guess (the gateway's slide source removes them before upload).
    let pictures = (JSON.parse(meta.associated) as Array<{ name: string }>).map((a) => a.name).filter((n) => n === 'label' || n === 'macro')
    // The one exception: a macro the gateway kept with its label area blacked out, checked here against its pixels.
    if (collection.deidentified && pictures.length === 1 && pictures[0] === 'macro' && (await blackedOutMacro(path))) pictures = []
    if (collection.deidentified && pictures.length) throw SlideErrors.identifyingImages(collection.name, pictures)
    const objectKey = `slides/${sha256}`
    await archive.objects.putFile(objectKey, path, { sha256, move: opts.move, verified: opts.move })
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
  }
}

/** One instance file of a DICOM WSI, with its SHA-256 (computed while it was received or read). */
export interface SlideInstanceFile {
  /** What to call it in messages (a file name, a tar member name). */
  name: string
  path: string
  sha256: string
  size: number
}

/** The identity of a slide made of instances: SHA-256 over the sorted lowercase hex hashes, each followed by "\n". */
export function instanceSetSha256(hashes: readonly string[]): string {
  return createHash('sha256').update([...new Set(hashes)].sort().map((h) => `${h}\n`).join('')).digest('hex')
}

/** A DICOM WSI sent as a ustar archive of its instances (POST /slides, application/x-tar), spooled to temp files. */
export async function storeDicomSlideTar(archive: Archive, tmpDir: string, collection: SlideCollection, body: Readable): Promise<StoreResult> {
  const dir = join(tmpDir, `slide-${newId()}`)
  await mkdir(dir, { recursive: true })
  try {
    let files
    try {
      files = await spoolTar(body, dir)
    } catch (e) {
      if (isKuraError(e)) {
        body.resume()
        throw e
      }
      throw SlideErrors.receiveFailed((e as Error)?.message ?? String(e))
    }
    if (files.length === 0) throw SlideErrors.noInstances()
    return await storeDicomSlide(archive, collection, files, { move: true })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * Stores the instances of one DICOM WSI as one slide. `move`: the files are the caller's temp copies (moved into
 * the store); otherwise they are copied (`kura import --data` reads the user's files in place).
 */
export async function storeDicomSlide(archive: Archive, collection: SlideCollection, given: readonly SlideInstanceFile[], opts: { move: boolean }): Promise<StoreResult> {
  // The same instance twice (a member repeated in the archive) is one object.
  const files = [...new Map(given.map((f) => [f.sha256, f])).values()]
  if (files.length === 0) throw SlideErrors.noInstances()
  const sha256 = instanceSetSha256(files.map((f) => f.sha256))
  const existing = await slideQuery(archive.catalog.db).where('s.collection_id', '=', collection.id).where('s.sha256', '=', sha256).executeTakeFirst()
  if (existing) return { status: 'duplicate', row: existing }

  // Each header once: what kind of image it is, and (in a de-identified collection) the receipt check of DICOM objects.
  const headers: { sopInstanceUid: string; flavor: string }[] = []
  const findings: { name: string; kinds: string[] }[] = []
  for (const f of files) {
    const src = await FileSource.open(f.path)
    try {
      const parsed = await readForCheck(src)
      headers.push({ sopInstanceUid: getString(parsed.dataset, 0x00080018) ?? '', flavor: (getStrings(parsed.dataset, 0x00080008)[2] ?? 'VOLUME').toUpperCase() })
      if (collection.deidentified) {
        const found = receiptFindings(parsed)
        if (found.length) findings.push({ name: f.name, kinds: found.map((x) => x.kind) })
      }
    } catch (e) {
      if (isKuraError(e)) throw SlideErrors.notAnInstance(f.name, e.message)
      throw e
    } finally {
      await src.close()
    }
  }
  if (collection.deidentified) {
    // A label photographs the glass label (name, ID); an overview usually shows it too: as SVS label/macro images.
    const identifying = [...new Set(headers.map((h) => h.flavor).filter((k) => k === 'LABEL' || k === 'OVERVIEW'))].sort()
    if (identifying.length) throw SlideErrors.identifyingInstances(collection.name, identifying)
    if (findings.length) throw SlideErrors.notDeidentified(collection.name, findings[0]!.name, findings[0]!.kinds)
  }
  const meta = await describe(async () => openDicomSlide(await Promise.all(files.map((f) => FileSource.open(f.path)))))

  for (const f of files) await archive.objects.putFile(`slides/${f.sha256}`, f.path, { sha256: f.sha256, move: opts.move, verified: opts.move })
  const id = newId()
  try {
    await archive.catalog.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('slide')
        .values({ id, collection_id: collection.id, sha256, object_key: `${DICOM_SLIDE_KEY_PREFIX}${sha256}`, size: files.reduce((n, f) => n + f.size, 0), ...meta, created_at: new Date().toISOString() })
        .execute()
      await trx
        .insertInto('slide_instance')
        .values(files.map((f, i) => ({ slide_id: id, sha256: f.sha256, object_key: `slides/${f.sha256}`, size: f.size, sop_instance_uid: headers[i]!.sopInstanceUid, flavor: headers[i]!.flavor })))
        .execute()
    })
  } catch (e) {
    const raced = await slideQuery(archive.catalog.db).where('s.collection_id', '=', collection.id).where('s.sha256', '=', sha256).executeTakeFirst()
    if (raced) return { status: 'duplicate', row: raced }
    throw e
  }
  // A scanner that wrote no small levels: a worker derives them (pyramid-job.ts reads the instances through our reader).
  await enqueuePyramid(archive, id, JSON.parse(meta.levels) as Level[])
  return { status: 'stored', row: (await findSlide(archive.catalog.db, id))! }
}

/** Opens the slide with its reader and decodes one tile: a slide it refuses is answered with the reader's reason. */
async function describe(open: () => Promise<Slide>) {
  let slide: Slide
  try {
    slide = await open()
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
