/**
 * Keeping the macro with its label area blacked out, on a synthetic SVS whose macro has fake identifiers drawn on
 * its left third (@kura/wsi/synth): OpenSlide (Debian python3-openslide) still opens the output and lists the macro,
 * the label area is black, the rest matches within JPEG tolerance, level tiles are the same bytes; a rectangle that
 * misses the label leaves text that the verification catches.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { FileSource } from '@kura/core'
import { openSlide, TiffFile } from '@kura/wsi'
import { writeNdpiSlide, writeSvsSlide } from '@kura/wsi/synth'
import { deidentifySlide } from './deidentify-slide.ts'
import { checkBlackedOutMacro, macroRgb, maxIn, type PixelRect } from './keep-macro.ts'
import { verifySlideOutput } from './verify-slide.ts'
import { buildTiff, rgbEntries } from './testkit.ts'
import sharp from 'sharp'
import { writeFileSync } from 'node:fs'

const dir = mkdtempSync(join(tmpdir(), 'kura-keep-macro-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
const svs = join(dir, 'in.svs')
const ready = writeSvsSlide(svs, { width: 1200, height: 1000, seed: 3 })
const KEEP = { labelArea: { aperio: [0, 0, 0.4, 1] as const }, method: 'KURA test-policy 1' }

function openslideMacro(p: string): { assoc: string[]; size: number[]; rgb: Buffer; warnings: string[] } {
  const code = `import sys, json, openslide
s = openslide.OpenSlide(sys.argv[1])
m = s.associated_images['macro'].convert('RGB')
sys.stderr.write('\\n' + json.dumps({'assoc': sorted(s.associated_images.keys()), 'size': list(m.size)}))
sys.stdout.buffer.write(m.tobytes())`
  const r = spawnSync('/usr/bin/python3', ['-c', code, p], { maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`python3-openslide failed (apt-get install -y python3-openslide): ${r.stderr}`)
  const lines = r.stderr.toString().trim().split('\n')
  return { ...JSON.parse(lines.pop()!), rgb: r.stdout, warnings: lines.filter((l) => l.trim() !== '') } // libtiff's warnings come first
}

/** PSNR (dB) of two RGB images outside `rect`. */
function psnrOutside(a: Uint8Array, b: Uint8Array, width: number, rect: PixelRect): number {
  let se = 0
  let n = 0
  for (let i = 0; i < a.length / 3; i++) {
    const x = i % width
    const y = Math.floor(i / width)
    if (x >= rect[0] && x < rect[0] + rect[2] && y >= rect[1] && y < rect[1] + rect[3]) continue
    for (let c = 0; c < 3; c++) se += (a[i * 3 + c]! - b[i * 3 + c]!) ** 2
    n += 3
  }
  return 10 * Math.log10((255 * 255) / (se / n))
}

test('SVS macro kept: OpenSlide lists it, the label area is black, the rest unchanged, tiles identical, verification passes', async () => {
  await ready
  const out = join(dir, 'kept.svs')
  const src = await FileSource.open(svs)
  const report = await deidentifySlide(src, out, { keepMacro: KEEP }).finally(() => src.close())
  assert.ok(report.macroKept, 'macro kept')
  assert.deepEqual(report.removed.map((r) => r.image).sort(), ['label', 'macro']) // the old macro directory is replaced
  assert.equal(report.findings.length, 0)
  const rect = report.macroKept.rect
  assert.deepEqual(rect, [0, 0, 600, 500]) // 0.4 × 1500 = 600 (a multiple of 8), full height

  const before = openslideMacro(svs)
  const after = openslideMacro(out)
  assert.deepEqual(after.assoc, ['macro', 'thumbnail'])
  assert.deepEqual(after.warnings, []) // no unterminated descriptions, no bad directory
  assert.deepEqual(after.size, [1500, 500])
  assert.equal(maxIn({ data: after.rgb, width: 1500 }, rect), 0, 'label area black in OpenSlide')
  const p = psnrOutside(before.rgb, after.rgb, 1500, rect)
  console.log(`macro outside the label area: PSNR ${p.toFixed(1)} dB after re-encoding (JPEG q90 4:4:4); ${report.macroKept.jpegBytes} bytes`)
  assert.ok(p > 35, `PSNR ${p}`)
  // Before, the synth's label (left third) was not black.
  assert.ok(maxIn({ data: before.rgb, width: 1500 }, [0, 0, 500, 500]) > 200)

  // Every level tile the same bytes (our reader); the kept macro's description names the rectangle and policy.
  const a = await openSlide(await FileSource.open(svs))
  const b = await openSlide(await FileSource.open(out))
  try {
    for (const [l, lv] of a.levels.entries())
      for (let r = 0; r < Math.ceil(lv.height / lv.tileHeight); r++)
        for (let c = 0; c < Math.ceil(lv.width / lv.tileWidth); c++) assert.equal(Buffer.compare((await a.tile(l, c, r)).bytes, (await b.tile(l, c, r)).bytes), 0)
    const fs = await FileSource.open(out)
    const descs = await TiffFile.open(fs).then((t) => Promise.all(t.ifds.map((i) => i.string(270)))).finally(() => fs.close())
    const macroDesc = descs.find((d) => d?.includes('blacked out'))
    assert.match(macroDesc ?? '', /^Aperio Image Library \(Kura\)\nmacro 1500x500 label area 0,0,600,500 blacked out by KURA test-policy 1$/)
    assert.deepEqual(await checkBlackedOutMacro(b, macroDesc), [])
  } finally {
    await a.close()
    await b.close()
  }
})

test('a rectangle that misses the label: the text stays, and verification against the true label area fails', async () => {
  await ready
  const out = join(dir, 'wrong.svs')
  const src = await FileSource.open(svs)
  try {
    // The right end instead of the left: the scrubber blacks out what it was told, and its own check passes...
    const r = await deidentifySlide(src, out, { keepMacro: { ...KEEP, labelArea: { aperio: [0.6, 0, 0.4, 1] } } })
    assert.deepEqual(r.macroKept?.rect, [896, 0, 604, 500])
    const s = await openSlide(await FileSource.open(out))
    const rgb = (await macroRgb(s))!
    await s.close()
    assert.ok(maxIn(rgb, [0, 0, 500, 500]) > 200, 'the fake label is still there')
    // ...but checked against where the synth drew the label, the verification fails.
    const v = await verifySlideOutput(src, out, { removed: ['label'], scrubProperties: true, identifiers: [], keptMacro: { rect: [0, 0, 496, 496] } })
    assert.ok(v.findings.some((f) => /label area 0,0,496,496 is not black/.test(f)), v.findings.join('; '))
    assert.ok(v.findings.some((f) => /must name its blacked-out area/.test(f)), v.findings.join('; '))
  } finally {
    await src.close()
  }
})

test('a macro claimed black but not black fails verification and the hub-side check; without the option the macro goes', async () => {
  await ready
  // The input's own macro carries no marker and is not black: verifying the input as if its macro were kept fails.
  const src = await FileSource.open(svs)
  try {
    const v = await verifySlideOutput(src, svs, { removed: [], scrubProperties: false, identifiers: [], keptMacro: { rect: [0, 0, 600, 500] } })
    assert.ok(v.findings.some((f) => /is not black/.test(f)))
    const s = await openSlide(await FileSource.open(svs))
    try {
      // A forged marker on a macro that is not black: the claim is checked against the pixels.
      const forged = await checkBlackedOutMacro(s, 'macro 1500x500 label area 0,0,600,500 blacked out by KURA forged 1')
      assert.equal(forged?.length, 1)
      assert.match(forged![0]!, /label area 0,0,600,500 is not black/)
      assert.equal(await checkBlackedOutMacro(s, 'macro 1500x500'), undefined)
    } finally {
      await s.close()
    }
  } finally {
    await src.close()
  }
  // Default behaviour unchanged: no keep option, the macro goes.
  const out = join(dir, 'default.svs')
  const src2 = await FileSource.open(svs)
  const r = await deidentifySlide(src2, out).finally(() => src2.close())
  assert.equal(r.macroKept, undefined)
  assert.deepEqual(openslideMacroList(out), ['thumbnail'])
})

test('NDPI macro kept (SourceLens −1, read by OpenSlide as a bare JPEG): label area black, levels unchanged', async () => {
  const ndpi = join(dir, 'in.ndpi')
  await writeNdpiSlide(ndpi, { width: 1024, height: 768, seed: 4 })
  const out = join(dir, 'kept.ndpi')
  const src = await FileSource.open(ndpi)
  const r = await deidentifySlide(src, out, { keepMacro: { labelArea: { hamamatsu: [0, 0, 0.4, 1] }, method: 'KURA test-policy 1' } }).finally(() => src.close())
  assert.equal(r.vendor, 'hamamatsu')
  assert.ok(r.macroKept && r.tilesCompared > 0)
  const before = openslideMacro(ndpi)
  const after = openslideMacro(out)
  assert.deepEqual(after.assoc, before.assoc)
  assert.deepEqual(after.size, before.size)
  const w = after.size[0]!
  assert.ok(maxIn({ data: before.rgb, width: w }, r.macroKept.rect) > 200, 'the synth label was there')
  assert.equal(maxIn({ data: after.rgb, width: w }, r.macroKept.rect), 0)
  const p = psnrOutside(before.rgb, after.rgb, w, r.macroKept.rect)
  console.log(`NDPI macro ${after.size.join('×')}, label area ${r.macroKept.rect.join(',')}: PSNR outside ${p.toFixed(1)} dB`)
  assert.ok(p > 35)
})

test('BigTIFF Aperio in both byte orders: the new macro directory links with 8-byte pointers; OpenSlide reads it', async () => {
  // A 300×100 macro: a white "label" with dark bars on the left 90 px, grey glass to the right.
  const W = 300
  const H = 100
  const rgb = new Uint8Array(W * H * 3).fill(128)
  for (let y = 0; y < H; y++) for (let x = 0; x < 90; x++) rgb.fill(y % 20 < 6 && x > 10 ? 20 : 250, (y * W + x) * 3, (y * W + x) * 3 + 3)
  const jpeg = new Uint8Array(await sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer())
  const level = new Uint8Array(64 * 64 * 3).fill(180)
  for (const le of [true, false]) {
    const inPath = join(dir, `big-${le ? 'le' : 'be'}.svs`)
    writeFileSync(
      inPath,
      buildTiff(true, le, [
        { tiled: true, chunks: [level, level, level, level], entries: rgbEntries(128, 128, 64, [{ tag: 270, type: 2, value: 'Aperio Image Library v1\n128x128 [0,0 128x128] (64x64) |AppMag = 20|MPP = 0.5' }]) },
        { tiled: false, chunks: [new Uint8Array(32 * 32 * 3).fill(200)], entries: rgbEntries(32, 32, null, [{ tag: 270, type: 2, value: 'Aperio Image Library v1\n128x128 -> 32x32' }]) },
        {
          tiled: false,
          chunks: [jpeg],
          entries: [
            ...rgbEntries(W, H, null, [{ tag: 270, type: 2, value: 'Aperio Image Library v1\nmacro 300x100' }, { tag: 530, type: 3, value: [1, 1] }]).filter((e) => e.tag !== 259 && e.tag !== 262),
            { tag: 259, type: 3, value: [7] },
            { tag: 262, type: 3, value: [6] },
          ],
        },
      ]),
    )
    const out = join(dir, `big-${le ? 'le' : 'be'}-kept.svs`)
    const src = await FileSource.open(inPath)
    const r = await deidentifySlide(src, out, { keepMacro: { labelArea: { aperio: [0, 0, 0.3, 1] }, method: 'KURA test-policy 1' } }).finally(() => src.close())
    assert.ok(r.bigTiff && r.macroKept)
    assert.deepEqual(r.macroKept.rect, [0, 0, 96, 100]) // 90 px rounded out to whole 8-px blocks
    const before = openslideMacro(inPath)
    const after = openslideMacro(out)
    assert.deepEqual(after.assoc, ['macro', 'thumbnail'])
    assert.ok(maxIn({ data: before.rgb, width: W }, [0, 0, 90, 100]) > 200)
    assert.equal(maxIn({ data: after.rgb, width: W }, [0, 0, 96, 100]), 0)
    assert.ok(psnrOutside(before.rgb, after.rgb, W, [0, 0, 96, 100]) > 35)
  }
})

function openslideMacroList(p: string): string[] {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import sys, json, openslide\nprint(json.dumps(sorted(openslide.OpenSlide(sys.argv[1]).associated_images.keys())))', p], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout)
}
