/**
 * @module Test support: OpenSlide (Debian's python3-openslide) as the reference reader, and pixel comparisons.
 *
 * Tests fail loudly when python3-openslide or vips is missing instead of skipping: the comparisons are the point.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const PYTHON = '/usr/bin/python3'
export const CMU_SMALL = '/work/shared/data/wsi/CMU-1-Small-Region.svs'
const INSTALL = 'apt-get install -y python3-openslide openslide-tools libvips-tools'

/** Runs a Python snippet with openslide imported; `args` arrive as sys.argv[1:]. Returns stdout. */
export function openslidePy(code: string, args: string[] = []): string {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: ${INSTALL}`)
  const r = spawnSync(PYTHON, ['-c', 'import sys, json, openslide\n' + code, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  if (r.status !== 0) throw new Error(`python3-openslide failed (is it installed? ${INSTALL}): ${r.stderr}`)
  return r.stdout
}

export interface OpenSlideInfo {
  levelCount: number
  dimensions: [number, number][]
  downsamples: number[]
  properties: Record<string, string>
  associated: Record<string, [number, number]>
}

export function openslideInfo(path: string): OpenSlideInfo {
  return JSON.parse(
    openslidePy(
      `s = openslide.OpenSlide(sys.argv[1])
print(json.dumps({'levelCount': s.level_count, 'dimensions': s.level_dimensions, 'downsamples': s.level_downsamples,
  'properties': dict(s.properties), 'associated': {k: v.size for k, v in s.associated_images.items()}}))`,
      [path],
    ),
  )
}

export type Region = [level: number, x: number, y: number, w: number, h: number]

/** OpenSlide read_region for each region, as RGBA bytes (un-premultiplied, as Python's PIL image has them). */
export function openslideRegions(path: string, regions: Region[]): Uint8Array[] {
  const dir = mkdtempSync(join(tmpdir(), 'kura-wsi-os-'))
  try {
    const out = join(dir, 'px.raw')
    openslidePy(
      `s = openslide.OpenSlide(sys.argv[1])
with open(sys.argv[2], 'wb') as f:
    for l, x, y, w, h in json.loads(sys.argv[3]):
        f.write(s.read_region((x, y), l, (w, h)).tobytes())`,
      [path, out, JSON.stringify(regions)],
    )
    const all = readFileSync(out)
    const res: Uint8Array[] = []
    let p = 0
    for (const [, , , w, h] of regions) {
      res.push(new Uint8Array(all.subarray(p, p + w * h * 4)))
      p += w * h * 4
    }
    return res
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** OpenSlide's associated image as RGBA bytes. */
export function openslideAssociated(path: string, name: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'kura-wsi-os-'))
  try {
    const out = join(dir, 'a.raw')
    openslidePy(`s = openslide.OpenSlide(sys.argv[1])\nopen(sys.argv[2], 'wb').write(s.associated_images[sys.argv[3]].convert('RGBA').tobytes())`, [path, out, name])
    return new Uint8Array(readFileSync(out))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs vips (Debian libvips-tools); throws with the install hint when it is missing or fails. */
export function vips(args: string[]): void {
  const r = spawnSync('vips', args, { encoding: 'utf8' })
  if (r.error || r.status !== 0) throw new Error(`vips ${args.join(' ')} failed (${INSTALL}): ${r.error?.message ?? r.stderr}`)
}

/** Mean absolute difference over the RGB channels (alpha ignored) and the largest single difference. */
export function rgbDiff(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  if (a.length !== b.length) throw new Error(`pixel buffers differ in length: ${a.length} vs ${b.length}`)
  let sum = 0
  let max = 0
  let n = 0
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(a[i + c] - b[i + c])
      sum += d
      if (d > max) max = d
      n++
    }
  }
  return { mean: sum / n, max }
}

export function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0
  let n = 0
  for (let i = 0; i < a.length; i += 4)
    for (let c = 0; c < 3; c++) {
      const d = a[i + c] - b[i + c]
      se += d * d
      n++
    }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / n))
}
