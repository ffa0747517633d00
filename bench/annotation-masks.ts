/**
 * @module `kura bench annotation-masks`: how the export's label masks are made. Paints the same random polygons
 * (with holes) into 512-pixel tiles with Kura's scanline fill (packages/hub/src/annotations/interchange/mask.ts)
 * and with sharp rendering an SVG (librsvg, fill-rule evenodd, shape-rendering crispEdges), and prints the time per
 * tile and how many pixels the SVG route gives a value no polygon has (anti-aliased edges) or another class.
 *
 *   npx tsx bench/annotation-masks.ts [--tiles 50] [--polygons 200] [--size 512]
 */
import { parseArgs } from 'node:util'
import sharp from 'sharp'
import { rasterise } from '../packages/hub/src/annotations/interchange/mask.ts'

type Ring = [number, number][]

/** A deterministic pseudo-random generator (mulberry32), so runs compare. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function star(r: () => number, cx: number, cy: number, radius: number, points: number): Ring {
  const ring: Ring = []
  for (let k = 0; k < points; k++) {
    const a = (k / points) * 2 * Math.PI
    const d = radius * (0.5 + 0.5 * r())
    ring.push([cx + d * Math.cos(a), cy + d * Math.sin(a)])
  }
  ring.push(ring[0]!)
  return ring
}

function svgOf(size: number, regions: { polygons: Ring[][]; value: number }[]): string {
  const paths = regions
    .map((reg) => reg.polygons.map((p) => `<path fill-rule="evenodd" fill="rgb(${reg.value},${reg.value},${reg.value})" d="${p.map((ring) => 'M' + ring.map(([x, y]) => `${x.toFixed(3)} ${y.toFixed(3)}`).join('L') + 'Z').join('')}"/>`).join(''))
    .join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="black"/>${paths}</svg>`
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { tiles: { type: 'string' }, polygons: { type: 'string' }, size: { type: 'string' }, help: { type: 'boolean' } } })
  if (values.help) {
    process.stdout.write('Usage: kura bench annotation-masks [--tiles 50] [--polygons 200] [--size 512]\n')
    return
  }
  const tiles = Number(values.tiles ?? 50)
  const n = Number(values.polygons ?? 200)
  const size = Number(values.size ?? 512)
  const r = rng(1)
  const sets = Array.from({ length: tiles }, () =>
    Array.from({ length: n }, (_, i) => {
      const cx = r() * size
      const cy = r() * size
      const radius = 8 + r() * 40
      return { polygons: [[star(r, cx, cy, radius, 24), star(r, cx, cy, radius * 0.3, 12)]], value: 1 + (i % 5) }
    }),
  )
  const frame = { x0: 0, y0: 0, scale: 1, width: size, height: size }
  // Warm both up (JIT, librsvg's first load) before timing.
  rasterise(frame, sets[0]!)
  await sharp(Buffer.from(svgOf(size, sets[0]!))).extractChannel(0).raw().toBuffer()
  let t0 = performance.now()
  const ours = sets.map((s) => rasterise(frame, s))
  const scanMs = (performance.now() - t0) / tiles
  t0 = performance.now()
  const theirs: Uint8Array[] = []
  for (const s of sets) {
    const { data } = await sharp(Buffer.from(svgOf(size, s))).extractChannel(0).raw().toBuffer({ resolveWithObject: true })
    theirs.push(new Uint8Array(data))
  }
  const svgMs = (performance.now() - t0) / tiles
  let differ = 0
  let invalid = 0
  for (let t = 0; t < tiles; t++)
    for (let i = 0; i < size * size; i++) {
      if (ours[t]![i] !== theirs[t]![i]) differ++
      if (theirs[t]![i]! > 5) invalid++
    }
  const px = tiles * size * size
  process.stdout.write(
    [
      `${tiles} tiles of ${size}×${size}, ${n} polygons with a hole each`,
      `scanline (mask.ts): ${scanMs.toFixed(2)} ms/tile`,
      `sharp SVG (librsvg): ${svgMs.toFixed(2)} ms/tile`,
      `pixels where they differ: ${((100 * differ) / px).toFixed(3)} %; SVG pixels that are no class value (anti-aliasing): ${((100 * invalid) / px).toFixed(3)} %`,
      '',
    ].join('\n'),
  )
}

if (import.meta.url === `file://${process.argv[1]}`) await run(process.argv.slice(2))
