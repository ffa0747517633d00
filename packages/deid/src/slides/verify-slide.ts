/**
 * @module The second line of defence: re-reads a de-identified slide through @kura/wsi (not the
 * scrubber's own layout reader) and lists what is still wrong: associated images that should be
 * gone, identifying properties with a value, known identifiers in any ASCII tag, and tiles whose
 * bytes differ from the input's; a kept macro must be black in its label area and say so in its description.
 */
import { FileSource, type ByteSource } from '@kura/core'
import { FieldType, openSlide, TiffFile, type Ifd, type Slide } from '@kura/wsi'
import { BLACK_MAX, macroRgb, maxIn, parseMacroMarker, type PixelRect } from './keep-macro.ts'
import { isIdentifyingAperioKey, SCRUBBED_TAGS, XMP_TAG } from './scrub-text.ts'

export interface VerifySlideOptions {
  readonly removed: readonly ('label' | 'macro')[]
  readonly scrubProperties: boolean
  /** Text known to identify this slide (label text, barcode, accession number): must appear in no tag. */
  readonly identifiers: readonly string[]
  /** Tiles compared per level (first, last and evenly between). */
  readonly tilesPerLevel?: number
  /** The macro was kept: `rect` (pixels) must decode black, and its description must name that rectangle. */
  readonly keptMacro?: { readonly rect: PixelRect }
}

export interface VerifySlideResult {
  readonly findings: string[]
  readonly tilesCompared: number
}

const GENERIC_PROPS = ['tiff.DateTime', 'tiff.Artist', 'tiff.HostComputer', 'tiff.DocumentName', 'hamamatsu.Reference']

export async function verifySlideOutput(input: ByteSource, outPath: string, o: VerifySlideOptions): Promise<VerifySlideResult> {
  const findings: string[] = []
  let tilesCompared = 0
  let out: Slide
  try {
    out = await openSlide(await FileSource.open(outPath))
  } catch (e) {
    return { findings: [`the output does not open as a slide (${e instanceof Error ? e.message : String(e)})`], tilesCompared }
  }
  try {
    for (const name of o.removed) if (out.associated.has(name)) findings.push(`the output still has a ${name} image`)
    if (o.keptMacro) {
      const rgb = await macroRgb(out)
      const [x, y, w, h] = o.keptMacro.rect
      if (!rgb) findings.push('the kept macro is missing from the output')
      else if (x + w > rgb.width || y + h > rgb.height) findings.push(`the kept macro is ${rgb.width}×${rgb.height}, smaller than its label area ${o.keptMacro.rect.join(',')}`)
      else {
        const max = maxIn(rgb, o.keptMacro.rect)
        if (max > BLACK_MAX) findings.push(`the kept macro's label area ${o.keptMacro.rect.join(',')} is not black (a sample of ${max}): the label may be readable`)
      }
    }
    if (o.scrubProperties) {
      for (const [k, v] of Object.entries(out.properties)) {
        const aperioKey = k.startsWith('aperio.') && isIdentifyingAperioKey(k.slice(7))
        if ((aperioKey || GENERIC_PROPS.includes(k)) && v.trim() !== '') findings.push(`property ${k} still has a value`)
      }
    }
    const inSlide = await openSlide(unclosable(input))
    try {
      tilesCompared = await compareTiles(inSlide, out, o.tilesPerLevel ?? 4, findings)
    } finally {
      await inSlide.close()
    }
  } finally {
    await out.close()
  }
  const src = await FileSource.open(outPath)
  try {
    const tiff = await TiffFile.open(src)
    const ifds: Ifd[] = []
    for (const ifd of tiff.ifds) ifds.push(ifd, ...(await ifd.subIfds()))
    if (o.keptMacro) {
      const claims: PixelRect[] = []
      for (const ifd of ifds) {
        const c = parseMacroMarker(await ifd.string(270))
        if (c) claims.push(c.rect)
      }
      if (claims.length !== 1 || claims[0]!.join(',') !== o.keptMacro.rect.join(','))
        findings.push(`the kept macro's description must name its blacked-out area ${o.keptMacro.rect.join(',')} once (found ${claims.map((c) => c.join(',')).join('; ') || 'none'})`)
    }
    const needles = o.identifiers.map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0)
    for (const [i, ifd] of ifds.entries()) {
      for (const e of ifd.entries.values()) {
        if (e.type !== FieldType.ASCII && e.tag !== XMP_TAG) continue
        const text = (await ifd.string(e.tag)) ?? ''
        const lower = text.toLowerCase()
        for (const n of needles) if (lower.includes(n)) findings.push(`directory ${i} tag ${e.tag} contains the identifier "${n}"`)
        if (o.scrubProperties && (SCRUBBED_TAGS.has(e.tag) || e.tag === XMP_TAG) && text.replace(/\0/g, '').trim() !== '')
          findings.push(`directory ${i} tag ${e.tag} (${SCRUBBED_TAGS.get(e.tag) ?? 'XMP'}) still has a value`)
      }
    }
  } finally {
    await src.close()
  }
  return { findings, tilesCompared }
}

/** Same levels, and for a few tiles per level the same stored bytes: the scrub changed no pixels. */
async function compareTiles(a: Slide, b: Slide, perLevel: number, findings: string[]): Promise<number> {
  if (a.levels.length !== b.levels.length) {
    findings.push(`the output has ${b.levels.length} levels, the input ${a.levels.length}`)
    return 0
  }
  let n = 0
  for (let l = 0; l < a.levels.length; l++) {
    const la = a.levels[l]
    const lb = b.levels[l]
    if (la.width !== lb.width || la.height !== lb.height || la.tileWidth !== lb.tileWidth) {
      findings.push(`level ${l} is ${lb.width}×${lb.height} in the output, ${la.width}×${la.height} in the input`)
      continue
    }
    const cols = Math.ceil(la.width / la.tileWidth)
    const rows = Math.ceil(la.height / la.tileHeight)
    const total = cols * rows
    const picks = new Set<number>()
    for (let k = 0; k < perLevel; k++) picks.add(Math.round((k * (total - 1)) / Math.max(1, perLevel - 1)))
    for (const idx of picks) {
      const col = idx % cols
      const row = Math.floor(idx / cols)
      const [ta, tb] = await Promise.all([a.tile(l, col, row).catch(() => null), b.tile(l, col, row).catch(() => null)])
      if (!ta && !tb) continue // a tile the file does not store, in both
      if (!ta || !tb || Buffer.compare(ta.bytes, tb.bytes) !== 0) findings.push(`tile (${l}, ${col}, ${row}) differs from the input`)
      n++
    }
  }
  return n
}

/** The caller's source, shielded from openSlide's close. */
function unclosable(src: ByteSource): ByteSource {
  return { size: src.size, read: (o, l) => src.read(o, l), close: async () => {} }
}
