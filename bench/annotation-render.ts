/**
 * @module Annotation rendering in the browser: OpenSeadragon with 100,000 polygons in view, panned, drawn by the
 * app's WebGL2 overlay, its canvas 2D fallback and Annotorious for OpenSeadragon 3.8, in Debian's Chromium (software
 * WebGL here: no GPU). Frame intervals and the overlay's draw-call times are printed per renderer. The measurement
 * lives in test/web-annotation-render.test.ts (its bench page is test/support/annotation-bench/); `npm test` runs
 * only its small overlay check, this runs the whole comparison.
 *
 *   npx kura bench annotation-render [--shapes N]
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { num, parseFlags, runIfMain } from './lib/util.ts'

const USAGE = `
kura bench annotation-render — frame times with N polygons in view: app overlay (WebGL2, canvas 2D) vs Annotorious

  npx kura bench annotation-render [--shapes N]

Needs Debian's chromium. Takes about 11 minutes at 100,000 shapes on 2 cores.`

export async function run(argv: string[]): Promise<void> {
  const f = await parseFlags(argv, USAGE, { shapes: { type: 'string', default: '100000', help: 'polygons in view' } })
  if (!f) return
  const file = fileURLToPath(new URL('../test/web-annotation-render.test.ts', import.meta.url))
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', file], {
    stdio: 'inherit',
    env: { ...process.env, KURA_RENDER_BENCH: '1', KURA_RENDER_BENCH_N: String(num(f.shapes, 'shapes')) },
  })
  if (r.status !== 0) process.exitCode = r.status ?? 1
}

runIfMain(import.meta.url, run)
