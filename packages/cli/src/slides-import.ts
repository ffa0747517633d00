/**
 * @module Slides in `kura import`: telling slide files (SVS, NDPI, tiled TIFF: whatever @kura/wsi opens) and DICOM
 * WSI instances (one slide per series) apart from ordinary DICOM by content, and storing each slide straight into
 * the archive (--data) or through POST /slides (--url). Every slide gets one outcome: its id, or why it failed.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { FileSource, isDicomHeader, isKuraError, isTiffHeader, KuraError, readHead, type HubConfig } from '@kura/core'
import type { FoundFile } from './walk.ts'
import { tarStream } from './slides-import-tar.ts'

const VL_WHOLE_SLIDE_MICROSCOPY_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.77.1.6'

/** One slide to store: a slide file, or the instances of one DICOM WSI series. */
export type SlideJob =
  | { kind: 'file'; label: string; file: FoundFile; error?: string }
  | { kind: 'dicom-wsi'; label: string; files: FoundFile[] }

export interface SlideOutcome {
  job: SlideJob
  status: 'stored' | 'duplicate' | 'failed'
  id?: string
  code?: string
  reason?: string
}

export interface Classified {
  /** Everything else: sent as DICOM objects, as before (non-DICOM files are rejected there, with their path). */
  dicom: FoundFile[]
  slides: SlideJob[]
}


/** The SOP Class and Series Instance UIDs of a Part 10 file (header only), or undefined when it cannot be read. */
async function dicomClass(path: string): Promise<{ sopClass: string; series: string } | undefined> {
  const { readDicom, getString } = await import('@kura/dicom')
  const src = await FileSource.open(path)
  try {
    const parsed = await readDicom(src, { untilTag: 0x0020000f })
    return { sopClass: getString(parsed.dataset, 0x00080016) ?? '', series: getString(parsed.dataset, 0x0020000e) ?? '' }
  } catch {
    return undefined // ingest reports it, as for any unreadable DICOM file
  } finally {
    await src.close()
  }
}

/**
 * Sorts the walked files: a TIFF-family file is a slide file when the slide reader opens it (a TIFF it refuses is
 * a failed slide, with the reader's reason); DICOM WSI instances are grouped by series; the rest is DICOM.
 */
export async function classify(files: readonly FoundFile[]): Promise<Classified> {
  const { openSlide } = await import('@kura/wsi')
  const dicom: FoundFile[] = []
  const slides: SlideJob[] = []
  const series = new Map<string, FoundFile[]>()
  for (const f of files) {
    let b: Buffer
    try {
      b = await readHead(f.path, 132)
    } catch {
      dicom.push(f) // unreadable: the DICOM path reports it with its path
      continue
    }
    // DICM first: a DICOM WSI may also be a TIFF ("dual personality"), and then it is an instance of its series.
    if (!isDicomHeader(b) && isTiffHeader(b)) {
      try {
        await (await openSlide(await FileSource.open(f.path))).close()
        slides.push({ kind: 'file', label: f.path, file: f })
      } catch (e) {
        slides.push({ kind: 'file', label: f.path, file: f, error: isKuraError(e) ? `${e.message} [${e.code}]` : String((e as Error)?.message ?? e) })
      }
      continue
    }
    const c = isDicomHeader(b) ? await dicomClass(f.path) : undefined
    if (c?.sopClass === VL_WHOLE_SLIDE_MICROSCOPY_IMAGE_STORAGE) series.set(c.series, [...(series.get(c.series) ?? []), f])
    else dicom.push(f)
  }
  for (const group of series.values()) {
    const dirs = [...new Set(group.map((f) => dirname(f.path)))]
    slides.push({ kind: 'dicom-wsi', label: `${dirs.length === 1 ? dirs[0] : `${dirs[0]} (and ${dirs.length - 1} more folders)`} (DICOM WSI, ${group.length} instance${group.length === 1 ? '' : 's'})`, files: group })
  }
  return { dicom, slides }
}

export interface SlideSink {
  send(job: SlideJob): Promise<SlideOutcome>
  close(): Promise<void>
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

function failed(job: SlideJob, e: unknown): SlideOutcome {
  if (isKuraError(e)) return { job, status: 'failed', code: e.code, reason: e.message }
  return { job, status: 'failed', code: 'CLI_SLIDE_FAILED', reason: String((e as Error)?.message ?? e) }
}

/** Straight into the archive on this machine (the hub's data folder), creating the collection if needed as DICOM import does. */
export async function localSlideSink(config: HubConfig, collectionName: string): Promise<SlideSink> {
  const { openArchive, storeSlide, storeDicomSlide, createCollection } = await import('@kura/hub')
  const archive = await openArchive(config)
  const tmpDir = join(config.dataDir, 'tmp')
  let collection: { id: string; name: string; deidentified: boolean } | undefined
  const target = async () => {
    if (collection) return collection
    const db = archive.catalog.db
    let row = await db.selectFrom('collection').select(['id', 'name', 'deidentified']).where('name', '=', collectionName).executeTakeFirst()
    if (!row) {
      try {
        await createCollection(db, collectionName)
      } catch (e) {
        if (!(isKuraError(e) && e.status === 409)) throw e // made meanwhile by another import
      }
      row = await db.selectFrom('collection').select(['id', 'name', 'deidentified']).where('name', '=', collectionName).executeTakeFirstOrThrow()
    }
    collection = { id: row.id, name: row.name, deidentified: row.deidentified === 1 }
    return collection
  }
  return {
    async send(job) {
      try {
        if (job.kind === 'file') {
          if (job.error) return { job, status: 'failed', reason: job.error }
          const r = await storeSlide(archive, tmpDir, await target(), createReadStream(job.file.path))
          return { job, status: r.status, id: r.row.id }
        }
        const files = []
        for (const f of job.files) files.push({ name: f.path, path: f.path, size: f.size, sha256: await sha256Of(f.path) })
        const r = await storeDicomSlide(archive, await target(), files, { move: false })
        return { job, status: r.status, id: r.row.id }
      } catch (e) {
        return failed(job, e)
      }
    },
    close: () => archive.close(),
  }
}

/** A running hub: POST /slides (the file itself, or a ustar archive of a DICOM WSI's instances). */
export function httpSlideSink(baseUrl: string, collection: string, token: string | undefined): SlideSink {
  return {
    async send(job) {
      if (job.kind === 'file' && job.error) return { job, status: 'failed', reason: job.error }
      const body = job.kind === 'file' ? createReadStream(job.file.path) : Readable.from(tarStream(job.files))
      const headers: Record<string, string> = { 'content-type': job.kind === 'file' ? 'application/octet-stream' : 'application/x-tar', accept: 'application/json' }
      if (token) headers.authorization = `Bearer ${token}`
      let res: Response
      try {
        res = await fetch(`${baseUrl}/slides?collection=${encodeURIComponent(collection)}`, {
          method: 'POST',
          headers,
          body: Readable.toWeb(body) as unknown as RequestInit['body'],
          duplex: 'half',
        } as RequestInit)
      } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause
        return failed(job, new KuraError('CLI_HUB_UNREACHABLE', `Could not send to the hub at ${baseUrl} (${cause?.code ?? cause?.message ?? (e as Error).message}). Is "kura hub" running there?`, { status: 502 }))
      }
      const text = await res.text()
      let json: { id?: string; code?: string; message?: string } = {}
      try {
        json = text ? JSON.parse(text) : {}
      } catch {
        /* not JSON: reported below with the status */
      }
      if ((res.status === 200 || res.status === 201) && json.id) return { job, status: res.status === 201 ? 'stored' : 'duplicate', id: json.id }
      let reason = json.message ?? `HTTP ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`
      if (res.status === 401 || res.status === 403) reason += ' Set KURA_TOKEN to a token with study:write on the collection.'
      // The hub names tar members instance-0001.dcm, ...: say which file that was.
      if (job.kind === 'dicom-wsi') reason = reason.replace(/instance-(\d{4,})\.dcm/g, (m, n: string) => job.files[Number(n) - 1]?.path ?? m)
      return { job, status: 'failed', code: json.code ?? `HTTP_${res.status}`, reason }
    },
    async close() {},
  }
}

/** The slide part of the import summary; the ids come separately, last. */
export function formatSlideSummary(outcomes: readonly SlideOutcome[], what: string): string {
  const n = (s: SlideOutcome['status']) => outcomes.filter((o) => o.status === s).length
  const lines = [`${what}: ${outcomes.length} slide${outcomes.length === 1 ? '' : 's'}`, `  stored      ${n('stored')}`, `  duplicates  ${n('duplicate')}`, `  failed      ${n('failed')}`]
  const bad = outcomes.filter((o) => o.status === 'failed')
  if (bad.length) {
    lines.push('', `Slides not stored (${bad.length}):`)
    for (const o of bad) lines.push(`  ${o.job.label}`, `    failed: ${o.reason ?? 'no reason given'}${o.code && !(o.reason ?? '').includes(o.code) ? ` [${o.code}]` : ''}`)
  }
  return lines.join('\n') + '\n'
}
