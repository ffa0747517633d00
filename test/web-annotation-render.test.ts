/**
 * The need "the viewer stays fluid with 100,000 shapes in view", measured in Chromium: OpenSeadragon
 * with 100,000 twelve-vertex polygons in view, panned for 30 frames (or 20 s, whichever comes first), drawn by Annotorious
 * (`@annotorious/openseadragon` 3.8, PixiJS) and by the app's own overlay (WebGL2 and canvas 2D,
 * packages/web/src/annotations/renderer.tsx). Prints the frame times of each; asserts only a generous
 * bound on the app's own overlay so the test is not flaky on a loaded machine.
 *
 * Headless Chromium here has no GPU: WebGL runs on SwiftShader (software), so the figures are an
 * upper bound of what a workstation with a GPU gives. `KURA_RENDER_BENCH_N` changes the shape count.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'
import { CHROMIUM, requireChromium } from './support/browser.ts'

const BENCH = fileURLToPath(new URL('./support/annotation-bench/', import.meta.url))
/**
 * In `npm test` only the overlay's own bound is checked, at 20,000 shapes (about a minute here). The full
 * comparison (100,000 shapes, baseline, outlines, canvas 2D, Annotorious) is a benchmark, not a test:
 * `npx kura bench annotation-render` runs this file with KURA_RENDER_BENCH=1 (about 11 minutes on 2 cores).
 */
const FULL = process.env.KURA_RENDER_BENCH === '1'
const N = Number(process.env.KURA_RENDER_BENCH_N ?? (FULL ? 100_000 : 20_000))
const FRAMES = 30
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' }

interface Result { mode: string; backend: string; n: number; setupMs: number; frames: number[]; renderMs: number[] }

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}
const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '—')

describe(`annotation rendering with ${N.toLocaleString('en')} polygons in view`, () => {
  let out = ''
  let server: Server | undefined
  let browser: Browser | undefined
  let base = ''

  before(async () => {
    out = mkdtempSync(join(tmpdir(), 'kura-annotation-bench-'))
    const { build } = await import('vite')
    await build({ root: BENCH, logLevel: 'warn', build: { outDir: out, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 10_000 } })
    server = createServer((req, res) => {
      const path = normalize(join(out, new URL(req.url ?? '/', 'http://x').pathname === '/' ? 'index.html' : new URL(req.url!, 'http://x').pathname))
      if (!path.startsWith(out)) return void res.writeHead(403).end()
      try {
        const body = readFileSync(path)
        res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body)
      } catch {
        res.writeHead(404).end()
      }
    })
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()))
    const addr = server.address()
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`
  })
  after(async () => {
    await browser?.close()
    server?.close()
    if (out) rmSync(out, { recursive: true, force: true })
  })

  /** Runs the page's bench; null when it has not finished within `budgetMs` (a renderer that cannot keep up). */
  async function measure(mode: 'none' | 'annotorious' | 'webgl' | 'webgl-outlines' | 'canvas2d', n = N, budgetMs = 150_000): Promise<Result | null> {
    // Not the shared launcher: that one passes --disable-gpu, which leaves no WebGL at all here.
    browser ??= await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--disable-background-networking', '--no-first-run'],
    })
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    try {
      await page.goto(base)
      await page.waitForFunction(() => (globalThis as any).benchReady === true)
      const run = page.evaluate(([m, k, f]) => (globalThis as any).runBench(m, k, f), [mode, n, FRAMES] as const) as Promise<Result>
      run.catch(() => {})
      const r = await Promise.race([run, new Promise<null>((res) => setTimeout(() => res(null), budgetMs))])
      if (!r) {
        console.log(`${mode.padEnd(11)} ${n} polygons: did not finish ${FRAMES} frames (or its 20 s of panning) within ${budgetMs / 1000} s`)
        // The page's main thread is busy for minutes: drop the whole browser rather than wait on it.
        await browser?.close().catch(() => {})
        browser = undefined
        return null
      }
      assert.deepEqual(errors, [], `no errors in the ${mode} page`)
      const mean = r.frames.reduce((a, b) => a + b, 0) / r.frames.length
      console.log(
        `${mode.padEnd(11)} (${r.backend}) ${r.n} polygons: setup ${fmt(r.setupMs)} ms; frame interval mean ${fmt(mean)} ms, p50 ${fmt(pct(r.frames, 50))}, p95 ${fmt(pct(r.frames, 95))}, max ${fmt(Math.max(...r.frames))} ms (${fmt(1000 / mean)} fps)` +
          (r.renderMs.length ? `; overlay draw call p50 ${fmt(pct(r.renderMs, 50))} ms, p95 ${fmt(pct(r.renderMs, 95))} ms` : ''),
      )
      return r
    } finally {
      if (browser) await page.close().catch(() => {})
    }
  }

  if (FULL) it('baseline: OpenSeadragon alone, no shapes', { timeout: 300_000 }, async (t) => {
    if (!requireChromium(t)) return
    const r = await measure('none')
    assert.ok(r && r.frames.length > 0)
  })

  it('the app overlay (WebGL2) stays within a generous frame bound while panning', { timeout: 300_000 }, async (t) => {
    if (!requireChromium(t)) return
    const r = await measure('webgl')
    assert.ok(r, 'the WebGL overlay finished its frames')
    assert.equal(r.backend, 'webgl', 'WebGL2 is available (SwiftShader) in this Chromium')
    assert.ok(r.frames.length > 0)
    // The overlay's own cost per frame (its draw call), not the frame interval: that one is mostly
    // OpenSeadragon and the compositor, and on a shared, loaded machine it swings by 10×. 60 fps
    // leaves 16.7 ms a frame; 50 ms still fails a renderer that re-tessellates or re-uploads per frame.
    assert.ok(r.renderMs.length > 0, 'the overlay drew while panning')
    assert.ok(pct(r.renderMs, 50) < 50, `overlay draw p50 ${fmt(pct(r.renderMs, 50))} ms`)
  })

  if (FULL) it('the app overlay, WebGL2 with every outline drawn (no level of detail): measured', { timeout: 300_000 }, async (t) => {
    if (!requireChromium(t)) return
    const r = await measure('webgl-outlines')
    assert.ok(r && r.frames.length > 0)
  })

  if (FULL) it('the app overlay, canvas 2D fallback: measured', { timeout: 300_000 }, async (t) => {
    if (!requireChromium(t)) return
    const r = await measure('canvas2d')
    if (r) assert.equal(r.backend, 'canvas2d')
  })

  if (FULL) it('Annotorious for OpenSeadragon: measured for comparison', { timeout: 480_000 }, async (t) => {
    if (!requireChromium(t)) return
    // At 100,000 it is reported as "did not finish" when it cannot; at 10,000 it gets figures to compare.
    await measure('annotorious')
    await measure('annotorious', Math.min(N, 10_000))
    await measure('webgl', Math.min(N, 10_000))
  })
})
