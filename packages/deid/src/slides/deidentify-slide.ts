/**
 * @module deidentifySlide: a new copy of a TIFF-based slide (Aperio SVS, tiled TIFF/BigTIFF,
 * Hamamatsu NDPI) without its label and macro images and with identifying text blanked, then
 * verified independently; a slide that fails verification is deleted, never returned.
 *
 * The copy keeps the file's layout byte for byte: label/macro pixel data is zeroed and their
 * directories unlinked from the IFD chain (the previous directory's next-IFD pointer patched),
 * and text is blanked in place (see scrub-text.ts), so every other offset stays valid.
 *
 * A policy may keep the macro with its label area blacked out (keep-macro.ts): the re-encoded macro and a new
 * directory for it are appended after the last byte, and the new directory takes the old one's place in the chain.
 */
import { rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { ByteSource } from '@kura/core'
import { directoryRole, slideVendor, type DirectoryRole, type SlideVendor } from './classify.ts'
import { SlideDeidErrors } from './errors.ts'
import { patchedCopy, type Patch } from './patched-copy.ts'
import { blankAscii, SCRUBBED_TAGS, scrubAperioDescription, XMP_TAG } from './scrub-text.ts'
import { ASCII, TiffLayout, type LayoutIfd } from './tiff-layout.ts'
import { buildKeptMacro, macroMarker, type FractionRect, type PixelRect } from './keep-macro.ts'
import { verifySlideOutput } from './verify-slide.ts'

export type RemovableImage = 'label' | 'macro'

export interface SlideDeidOptions {
  /** Associated images to remove; default both. */
  readonly removeAssociated?: readonly RemovableImage[]
  /** Blank identifying text (Aperio description fields, DateTime, Artist, ...); default true. */
  readonly scrubProperties?: boolean
  /** Text known to identify this slide (label text, barcode): verification fails if any tag still holds it. */
  readonly identifiers?: readonly string[]
  /**
   * Keep the macro (Aperio and Hamamatsu only) with this vendor's label area painted black instead of removing it.
   * `method` names the policy ("KURA <id> <version>") in the macro's description. The label is always removed.
   */
  readonly keepMacro?: { readonly labelArea: Readonly<Partial<Record<SlideVendor, FractionRect>>>; readonly method: string }
}

export interface SlideDeidReport {
  readonly vendor: SlideVendor
  readonly bigTiff: boolean
  readonly littleEndian: boolean
  /** Directories unlinked and their image data zeroed. */
  readonly removed: ReadonlyArray<{ dir: number; image: RemovableImage; offset: number; bytesZeroed: number }>
  /** Text blanked: the tag, and for Aperio descriptions the keys. */
  readonly scrubbed: ReadonlyArray<{ dir: number; tag: number; name: string; keys?: string[] }>
  /** The macro kept with its label area black (its old directory is also listed in `removed`, as replaced). */
  readonly macroKept?: { readonly dir: number; readonly rect: PixelRect; readonly jpegBytes: number; readonly bytesAppended: number }
  readonly bytesPatched: number
  readonly bytesCopied: number
  readonly copySeconds: number
  readonly copyMBps: number
  readonly tilesCompared: number
  /** Empty when the output passed verification (otherwise deidentifySlide throws). */
  readonly findings: readonly string[]
}

export async function deidentifySlide(src: ByteSource, outPath: string, opts: SlideDeidOptions = {}): Promise<SlideDeidReport> {
  const remove = opts.removeAssociated ?? ['label', 'macro']
  const scrubProperties = opts.scrubProperties ?? true
  const srcPath = (src as { path?: unknown }).path
  if (typeof srcPath === 'string' && resolve(srcPath) === resolve(outPath)) throw SlideDeidErrors.sameFile(outPath)

  const t = await TiffLayout.read(src)
  const vendor = await slideVendor(t)
  const roles: DirectoryRole[] = []
  for (let d = 0; d < t.ifds.length; d++) roles.push(await directoryRole(t, vendor, d))
  // A kept macro: the macro @kura/wsi and OpenSlide show (Aperio: the first named "macro"; NDPI: SourceLens −1);
  // any other macro-like directory (NDPI's map) is still removed.
  const area = vendor === 'generic' ? undefined : opts.keepMacro?.labelArea[vendor]
  let keptDir = -1
  if (area && remove.includes('macro')) {
    for (let d = 0; d < roles.length && keptDir < 0; d++)
      if (roles[d] === 'macro' && (vendor !== 'hamamatsu' || (await t.numbers(t.ifds[d], 65421))?.[0] === -1)) keptDir = d
  }
  // The kept macro's old directory is removed like any macro (data and text zeroed, unlinked), then replaced.
  const removedDirs = new Set(roles.flatMap((r, d) => ((remove as readonly string[]).includes(r) ? [d] : [])))
  if (removedDirs.has(0)) throw SlideDeidErrors.unknownImage(0, 'the first directory looks like a label or macro, so the slide has no full-resolution level first')

  const patches: Patch[] = []
  const removed: Array<SlideDeidReport['removed'][number]> = []
  const scrubbed: Array<SlideDeidReport['scrubbed'][number]> = []

  // (a) Zero the removed images' data, refusing when a kept image shares any of those bytes.
  const kept = await keptRanges(t, t.ifds.filter((_, d) => !removedDirs.has(d)))
  for (const d of removedDirs) {
    let zeroed = 0
    for (const [off, len] of await t.dataRanges(t.ifds[d])) {
      if (overlaps(kept, off, len)) throw SlideDeidErrors.sharedData(d)
      patches.push({ offset: off, length: len })
      zeroed += len
    }
    // Its text too (description, names): the directory is unreachable, but its bytes remain in the file.
    for (const e of t.ifds[d].entries.values()) if (e.type === ASCII) patches.push({ offset: e.valuePos, length: e.byteLength })
    removed.push({ dir: d, image: roles[d] as RemovableImage, offset: t.ifds[d].offset, bytesZeroed: zeroed })
  }

  // (a') The kept macro: re-encoded with its label area black, in a new directory after the last byte.
  const keptMacro = keptDir >= 0 && area && opts.keepMacro
    ? await buildKeptMacro(src, t, t.ifds[keptDir], area, (rect, w, h) => {
        const mark = macroMarker(rect, opts.keepMacro!.method)
        // Aperio names associated images on the description's second line (OpenSlide: up to the first space; \r\n would make an empty line).
        return vendor === 'aperio' ? `Aperio Image Library (Kura)\nmacro ${w}x${h} ${mark}` : `macro ${w}x${h} ${mark}`
      })
    : undefined

  // (b) Unlink them: each kept directory points at the next kept one (the new macro directory in the old one's place).
  const chain: Array<LayoutIfd | 'macro'> = t.ifds.flatMap((ifd, d): Array<LayoutIfd | 'macro'> => (d === keptDir && keptMacro ? ['macro'] : removedDirs.has(d) ? [] : [ifd]))
  const offsetOf = (c: LayoutIfd | 'macro' | undefined): number => (c === undefined ? 0 : c === 'macro' ? keptMacro!.ifdOffset : c.offset)
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i]!
    const next = offsetOf(chain[i + 1])
    if (c === 'macro') keptMacro!.append.set(t.pointer(next), keptMacro!.nextPtrAt)
    else if (next !== c.nextOffset) patches.push({ offset: c.nextPtrPos, length: t.pointerSize, data: t.pointer(next) })
  }

  // (c) Blank identifying text in every kept directory and its SubIFDs (OME-TIFF levels).
  if (scrubProperties) {
    const dirs: Array<[number, LayoutIfd]> = []
    for (const [d, ifd] of t.ifds.entries()) if (!removedDirs.has(d)) dirs.push([d, ifd], ...(await subIfds(t, ifd)).map((s): [number, LayoutIfd] => [d, s]))
    for (const [d, ifd] of dirs) {
      const desc = ifd.entries.get(270)
      if (vendor === 'aperio' && desc?.type === ASCII) {
        const raw = await t.bytes(desc)
        const text = Buffer.from(raw).toString('latin1')
        const s = scrubAperioDescription(text)
        if (s.keys.length > 0) {
          // NULs stay NULs: the terminator would otherwise be blanked with the last value (libtiff then warns).
          const data = new Uint8Array(Buffer.from(s.text, 'latin1')).map((c, i) => (raw[i] === 0 ? 0 : c))
          patches.push({ offset: desc.valuePos, length: desc.byteLength, data })
          scrubbed.push({ dir: d, tag: 270, name: 'ImageDescription', keys: s.keys })
        }
      }
      for (const [tag, name] of SCRUBBED_TAGS) {
        const e = ifd.entries.get(tag)
        if (!e || e.type !== ASCII) continue
        const raw = await t.bytes(e)
        const blank = blankAscii(raw)
        if (Buffer.compare(raw, blank) === 0) continue
        patches.push({ offset: e.valuePos, length: e.byteLength, data: blank })
        scrubbed.push({ dir: d, tag, name })
      }
      const xmp = ifd.entries.get(XMP_TAG)
      if (xmp && xmp.byteLength > 0) {
        patches.push({ offset: xmp.valuePos, length: xmp.byteLength, data: new Uint8Array(xmp.byteLength).fill(0x20) })
        scrubbed.push({ dir: d, tag: XMP_TAG, name: 'XMP' })
      }
    }
  }

  const t0 = performance.now()
  await patchedCopy(src, outPath, patches, keptMacro?.append)
  const copySeconds = (performance.now() - t0) / 1000

  let v: Awaited<ReturnType<typeof verifySlideOutput>>
  try {
    v = await verifySlideOutput(src, outPath, {
      removed: keptMacro ? remove.filter((r) => r !== 'macro') : remove,
      scrubProperties,
      identifiers: opts.identifiers ?? [],
      ...(keptMacro ? { keptMacro: { rect: keptMacro.rect } } : {}),
    })
  } catch (e) {
    await rm(outPath, { force: true })
    throw e
  }
  if (v.findings.length > 0) {
    await rm(outPath, { force: true })
    throw SlideDeidErrors.verificationFailed(v.findings)
  }
  return {
    vendor,
    bigTiff: t.bigTiff,
    littleEndian: t.littleEndian,
    removed,
    scrubbed,
    ...(keptMacro ? { macroKept: { dir: keptDir, rect: keptMacro.rect, jpegBytes: keptMacro.jpegBytes, bytesAppended: keptMacro.append.length } } : {}),
    bytesPatched: patches.reduce((s, p) => s + p.length, 0),
    bytesCopied: src.size,
    copySeconds,
    copyMBps: src.size / 1e6 / Math.max(copySeconds, 1e-9),
    tilesCompared: v.tilesCompared,
    findings: v.findings,
  }
}

async function subIfds(t: TiffLayout, ifd: LayoutIfd): Promise<LayoutIfd[]> {
  const offs = await t.numbers(ifd, 330)
  const out: LayoutIfd[] = []
  const seen = new Set<number>()
  for (let off of offs ?? []) {
    while (off !== 0 && !seen.has(off) && seen.size < 4096) {
      seen.add(off)
      const s = await t.readIfd(off)
      out.push(s)
      off = s.nextOffset
    }
  }
  return out
}

/** Sorted, merged data ranges of the kept directories (their SubIFDs included). */
async function keptRanges(t: TiffLayout, ifds: readonly LayoutIfd[]): Promise<Array<[number, number]>> {
  const all: Array<[number, number]> = []
  for (const ifd of ifds)
    for (const x of [ifd, ...(await subIfds(t, ifd))]) if (x.entries.has(273) || x.entries.has(324)) for (const [o, l] of await t.dataRanges(x)) all.push([o, o + l])
  all.sort((a, b) => a[0] - b[0])
  const merged: Array<[number, number]> = []
  for (const r of all) {
    const last = merged[merged.length - 1]
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1])
    else merged.push([r[0], r[1]])
  }
  return merged
}

function overlaps(sorted: ReadonlyArray<[number, number]>, off: number, len: number): boolean {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (sorted[mid][1] <= off) lo = mid + 1
    else hi = mid
  }
  return lo < sorted.length && sorted[lo][0] < off + len
}
