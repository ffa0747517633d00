/**
 * @module One taken slide through de-identification, into one file ready to upload, or a reason to quarantine it.
 *
 * - A slide file (SVS, NDPI, tiled TIFF): @kura/deid's `deidentifySlide` (label and macro removed, identifying
 *   text blanked, the copy verified by an independent re-read; it throws rather than return anything doubtful).
 *   A policy whose `slides.macro` is "keep-with-label-blacked-out" keeps the macro with the label area black.
 * - A DICOM WSI folder: LABEL and OVERVIEW instances are left behind (they photograph the glass label); every other
 *   instance goes through the same DICOM engine as all DICOM (`deidentifyFile`: PS3.15 rules, keyed UIDs, verified).
 *   OVERVIEW stays behind even when the policy keeps macros: the engine's pixel masks are whole-pixel rectangles
 *   matched on attribute values, not fractions of an image of any size, so the slide policy does not apply to it yet.
 *   The clean instances must still open as one slide; they travel as one ustar of `<sha256>.dcm` members.
 *
 * Anything unexpected is a quarantine reason, never an upload: reasons only, no values, in `reason.json`.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { FileSource, isKuraError } from '@kura/core'
import { getNumber, getString, getStrings, readDicom, Tags } from '@kura/dicom'
import { deidentifyFile, deidentifySlide, methodDescription, type Policy } from '@kura/deid'
import { openDicomSlide } from '@kura/wsi'
import type { DeidSettings } from '../../pipeline/index.ts'
import { writeUstar } from '../../upload/tar.ts'

const VL_WHOLE_SLIDE_MICROSCOPY_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.77.1.6'
/** Image Type value 3 of instances that stay on site: they show the glass label. */
const LEFT_BEHIND = new Set(['LABEL', 'OVERVIEW'])

export type SlideDeidOutcome =
  | { kind: 'clean'; uploadKind: 'slide' | 'slide-dicom'; path: string; sha256: string; bytes: number; study: string | null; count: number; summary: string }
  | { kind: 'quarantined'; reason: string; findings: string[] }

interface Head {
  sopClass: string
  /** Image Type value 3, upper case; empty when the instance has none (some converters write none). */
  flavor: string
  width: number
  height: number
  frames: number
}

/**
 * An instance without Image Type (OrthancWSIDicomizer writes none) is taken as a pyramid level only when it looks
 * like one: tiled over several frames, or the largest tiled instance shrunk by one factor on both axes (within
 * rounding). A label or overview is one frame of another shape, so it stays out, and the slide with it.
 */
function looksLikeLevel(h: Head, all: readonly Head[]): boolean {
  if (!(h.width > 0 && h.height > 0)) return false
  if (h.frames > 1) return true
  const base = all.filter((x) => x.frames > 1 && (x.flavor === '' || x.flavor === 'VOLUME')).sort((a, b) => b.width - a.width)[0]
  if (!base) return false
  const d = base.width / h.width
  return d >= 1 && Math.abs(base.height / d - h.height) <= 1.5 && Math.abs(base.width / d - h.width) <= 1.5
}

const why = (e: unknown) => (isKuraError(e) ? `${e.message} [${e.code}]` : ((e as Error)?.message ?? String(e)))

async function fsyncPath(path: string): Promise<void> {
  const fd = await open(path, 'r')
  try { await fd.sync() } finally { await fd.close() }
}

async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256')
  let bytes = 0
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(c as Buffer)
    bytes += (c as Buffer).length
  }
  return { sha256: h.digest('hex'), bytes }
}

/** A slide file: `input` → `out` (durable), or why not. `s.policy.slides` says whether the macro is kept (label area black). */
export async function deidentifySlideFile(input: string, out: string, s?: { policy: Policy }): Promise<SlideDeidOutcome> {
  const tmp = `${out}.tmp`
  await rm(tmp, { force: true })
  const src = await FileSource.open(input)
  try {
    const slides = s?.policy.slides
    const keepMacro = slides?.macro === 'keep-with-label-blacked-out' ? { labelArea: slides.macroLabelArea, method: methodDescription(s!.policy) } : undefined
    const report = await deidentifySlide(src, tmp, keepMacro ? { keepMacro } : {})
    await fsyncPath(tmp)
    await rename(tmp, out)
    const { sha256, bytes } = await sha256File(out)
    const gone = report.removed.filter((r) => r.dir !== report.macroKept?.dir).map((r) => r.image)
    const macro = report.macroKept ? `, kept the macro with label area ${report.macroKept.rect.join(',')} blacked out` : ''
    const summary = `${report.vendor}: removed ${gone.join(', ') || 'nothing'}${macro}, blanked ${report.scrubbed.map((s) => s.name).join(', ') || 'nothing'}, ${report.tilesCompared} tiles verified unchanged`
    return { kind: 'clean', uploadKind: 'slide', path: out, sha256, bytes, study: null, count: 1, summary }
  } catch (e) {
    const findings = isKuraError(e) && Array.isArray((e.details as { findings?: unknown })?.findings) ? ((e.details as { findings: string[] }).findings) : []
    return { kind: 'quarantined', reason: `slide de-identification refused this slide: ${why(e)}`, findings }
  } finally {
    await src.close()
    await rm(tmp, { force: true })
  }
}

/** The instances of a DICOM WSI folder (copied into `inputs`) → a ustar at `out` (durable), or why not. */
export async function deidentifyDicomSlide(inputs: readonly string[], work: string, out: string, s: DeidSettings): Promise<SlideDeidOutcome> {
  await rm(work, { recursive: true, force: true })
  await mkdir(work, { recursive: true })
  const q = (reason: string, findings: string[] = []): SlideDeidOutcome => ({ kind: 'quarantined', reason, findings })
  try {
    // First every header: what each instance is, before anything is de-identified.
    const heads: Head[] = []
    for (const [i, input] of inputs.entries()) {
      const src = await FileSource.open(input)
      try {
        const ds = (await readDicom(src, { untilTag: 0x00480008 })).dataset
        heads.push({
          sopClass: (getString(ds, 0x00080016) ?? '').replace(/\0/g, '').trim(),
          flavor: (getStrings(ds, 0x00080008)[2] ?? '').trim().toUpperCase(),
          width: getNumber(ds, 0x00480006) ?? getNumber(ds, 0x00280011) ?? 0,
          height: getNumber(ds, 0x00480007) ?? getNumber(ds, 0x00280010) ?? 0,
          frames: getNumber(ds, 0x00280008) ?? 1,
        })
      } catch (e) {
        return q(`instance ${i + 1} of the folder cannot be read as DICOM: ${why(e)}`)
      } finally {
        await src.close()
      }
    }
    const kept: Array<{ path: string; sha256: string; bytes: number; series: string; study: string }> = []
    const left: string[] = []
    for (const [i, input] of inputs.entries()) {
      const { sopClass, flavor } = heads[i]!
      if (sopClass !== VL_WHOLE_SLIDE_MICROSCOPY_IMAGE_STORAGE) return q(`instance ${i + 1} of the folder is not a VL Whole Slide Microscopy Image (SOP Class ${sopClass.slice(0, 64) || 'missing'}); a slide folder must hold one slide's instances only`)
      if (LEFT_BEHIND.has(flavor)) {
        left.push(flavor)
        continue
      }
      if (flavor === '' && !looksLikeLevel(heads[i]!, heads)) return q(`instance ${i + 1} has no Image Type and its size is no pyramid level of the slide's; it may be a label, so the slide is not sent`)
      if (flavor !== '' && flavor !== 'VOLUME' && flavor !== 'THUMBNAIL') return q(`instance ${i + 1} has Image Type value 3 "${flavor.slice(0, 20)}", neither VOLUME, THUMBNAIL, LABEL nor OVERVIEW; it may show the label`)
      const tmp = join(work, `${String(i).padStart(5, '0')}.dcm`)
      const r = await deidentifyFile(input, tmp, { policy: s.policy, secret: s.secret, collection: s.collection, reid: s.reid, durable: true })
      if (r.kind === 'unreadable' || r.kind === 'failed') return q(`instance ${i + 1}: ${r.reason}`)
      if (r.kind === 'quarantined') return q(`instance ${i + 1} did not pass verification`, r.findings.map((f) => `${f.keyword ?? f.path}: ${f.reason}`))
      const text = (tag: number) => (getString(r.written.dataset, tag) ?? '').replace(/^[ \0]+|[ \0]+$/g, '')
      const wflavor = (getStrings(r.written.dataset, 0x00080008)[2] ?? '').trim().toUpperCase()
      if (wflavor !== flavor) return q(`instance ${i + 1} changed its Image Type in de-identification (${flavor || 'none'} → ${wflavor.slice(0, 20) || 'none'})`)
      kept.push({ path: tmp, sha256: r.sha256, bytes: r.bytes, series: text(Tags.SeriesInstanceUID), study: text(Tags.StudyInstanceUID) })
    }
    if (!kept.some(() => true)) return q('the folder holds no VOLUME instance, so there is no slide to send')
    if (new Set(kept.map((k) => k.series)).size !== 1) return q('the de-identified instances belong to more than one series; one folder must hold one slide')
    // What leaves must still be one readable slide: opened and its smallest level's first tile decoded.
    const sources: FileSource[] = []
    try {
      for (const k of kept) sources.push(await FileSource.open(k.path))
      const slide = await openDicomSlide(sources)
      try {
        await slide.tilePixels(slide.levels.length - 1, 0, 0)
      } finally {
        await slide.close()
      }
    } catch (e) {
      return q(`the de-identified instances do not open as a slide: ${why(e)}`)
    } finally {
      await Promise.all(sources.map((x) => x.close().catch(() => {})))
    }
    const unique = [...new Map(kept.map((k) => [k.sha256, k])).values()]
    await rm(`${out}.tmp`, { force: true })
    const t = await writeUstar(unique.map((k) => ({ name: `${k.sha256}.dcm`, path: k.path, size: k.bytes })), `${out}.tmp`)
    await rename(`${out}.tmp`, out)
    const summary = `DICOM WSI: ${kept.length} instance${kept.length === 1 ? '' : 's'} de-identified, ${left.length ? `left on site: ${left.join(', ')}` : 'no label or overview instance'}`
    return { kind: 'clean', uploadKind: 'slide-dicom', path: out, sha256: t.sha256, bytes: t.bytes, study: kept[0]!.study || null, count: unique.length, summary }
  } finally {
    await rm(work, { recursive: true, force: true })
    await rm(`${out}.tmp`, { force: true })
  }
}
