/**
 * @module External tools the tests use as independent peers (pydicom, DCMTK).
 *
 * Missing on a developer machine: the test is skipped with a loud reason. Missing in CI
 * (CI=true): the test fails, because CI must never skip a peer silently.
 */
import { spawnSync } from 'node:child_process'
import type { TestContext } from 'node:test'

const cache = new Map<string, boolean>()

function has(name: string, probe: () => boolean): boolean {
  if (!cache.has(name)) cache.set(name, probe())
  return cache.get(name)!
}

export const tools = {
  pydicom: () => has('pydicom', () => spawnSync('/usr/bin/python3', ['-c', 'import pydicom'], { stdio: 'ignore' }).status === 0),
  dcmtk: () => has('dcmtk', () => spawnSync('dcmdump', ['--version'], { stdio: 'ignore' }).status === 0),
}

/** Returns false (after skipping `t` loudly) when the tool is missing outside CI; throws in CI. */
export function requireTool(t: TestContext, name: keyof typeof tools, install: string): boolean {
  if (tools[name]()) return true
  const msg = `${name} is not installed (${install}); this test needs it as an independent peer`
  if (process.env.CI) throw new Error(`CI: ${msg}`)
  console.warn(`\n*** SKIPPED: ${msg} ***\n`)
  t.skip(msg)
  return false
}

/** Runs Debian's python3 with pydicom; returns stdout, throws with stderr on failure. */
export function python(code: string, args: string[] = []): string {
  const r = spawnSync('/usr/bin/python3', ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`)
  return r.stdout
}
