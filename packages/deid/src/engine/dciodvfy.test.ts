/**
 * The engine adds no IOD violations: dciodvfy (Debian dicom3tools) checks each input and its de-identified output,
 * and every Error line of the output must already be in the input's report (messages normalised: values and
 * numbers stripped). New warnings are listed, not failed. Without dciodvfy the test skips loudly, or fails on CI.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BufferSource } from '@kura/core'
import { readDicomBuffer } from '@kura/dicom'
import { synthStudies } from '@kura/dicom/synth'
import { BASIC_POLICY } from '../policy/policy.ts'
import { parsePolicy } from '../policy/schema.ts'
import type { Policy } from '../policy/schema.ts'
import { deidentify } from './deidentify.ts'

const DCIODVFY = '/usr/bin/dciodvfy'
const TEST_FILES = '/usr/lib/python3/dist-packages/pydicom/data/test_files'
const SECRET = new Uint8Array(32).fill(5)
const RICH = parsePolicy({
  id: 'dciodvfy-rich', version: '1', profile: 'basic',
  options: ['retainLongitudinalModifiedDates', 'cleanDescriptors', 'cleanStructuredContent', 'retainPatientCharacteristics', 'retainDeviceIdentity'],
}, 'test')

function inputs(): Array<[string, Uint8Array]> {
  const out: Array<[string, Uint8Array]> = []
  for (const f of ['CT_small.dcm', 'MR_small.dcm']) {
    const p = join(TEST_FILES, f)
    if (existsSync(p)) out.push([`pydicom ${f}`, new Uint8Array(readFileSync(p))])
    else if (process.env.CI) assert.fail(`${p} is missing: install python3-pydicom`)
    else console.warn(`# SKIPPED input ${p}: install python3-pydicom`)
  }
  const small = { rows: 16, columns: 16 }
  for (const modality of ['CT', 'MR', 'ES'] as const) {
    for (const charset of ['ir87', 'ir192'] as const) {
      const inst = synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, modality, charset, seed: 9, sizes: { CT: small, MR: small, ES: small } }).next().value!
      out.push([`synth ${modality} ${charset}`, inst.bytes])
    }
  }
  return out
}

async function deid(buf: Uint8Array, policy: Policy): Promise<Uint8Array> {
  const { output } = await deidentify(readDicomBuffer(buf), new BufferSource(buf), { policy, secret: SECRET, collection: 'dciodvfy' })
  const parts: Uint8Array[] = []
  for await (const p of output) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}

/** dciodvfy's Error and Warning lines with values, offsets and counts taken out, so input and output compare. */
function report(dir: string, name: string, buf: Uint8Array): { errors: Set<string>; warnings: Set<string>; raw: string } {
  const f = join(dir, name)
  writeFileSync(f, buf)
  const r = spawnSync(DCIODVFY, [f], { encoding: 'utf8' })
  const raw = `${r.stdout}${r.stderr}`
  const norm = (l: string) =>
    l
      .replace(/\] = <[^>]*>/g, '] = <…>')
      .replace(/\b0x[0-9a-f]+\b/gi, (m) => (m.length === 6 ? m : '0x…')) // tag halves stay, offsets go
      .replace(/= -?\d+(\.\d+)?/g, '= N')
      .replace(/\s+/g, ' ')
      .trim()
  const errors = new Set<string>()
  const warnings = new Set<string>()
  for (const line of raw.split('\n')) {
    if (line.startsWith('Error')) errors.add(norm(line))
    else if (line.startsWith('Warning')) warnings.add(norm(line))
  }
  return { errors, warnings, raw }
}

test('dciodvfy: de-identified outputs add no IOD errors to their inputs', async (t) => {
  if (!existsSync(DCIODVFY)) {
    if (process.env.CI) assert.fail(`${DCIODVFY} is missing: install the Debian package dicom3tools`)
    console.warn(`#\n# SKIPPED: ${DCIODVFY} is not installed (apt-get install dicom3tools); the IOD comparison did not run.\n#`)
    t.skip('dciodvfy is not installed (apt-get install dicom3tools)')
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'kura-dciodvfy-'))
  try {
    let compared = 0
    const failures: string[] = []
    for (const [label, buf] of inputs()) {
      const before = report(dir, 'in.dcm', buf)
      for (const policy of [BASIC_POLICY, RICH]) {
        const after = report(dir, 'out.dcm', await deid(buf, policy))
        const added = [...after.errors].filter((e) => !before.errors.has(e))
        const warned = [...after.warnings].filter((w) => !before.warnings.has(w))
        if (warned.length > 0) console.log(`# ${label} (${policy.id}): new warnings: ${warned.join(' | ')}`)
        if (added.length > 0) failures.push(`${label} (${policy.id}): ${added.join(' | ')}`)
        compared++
      }
    }
    assert.deepEqual(failures, [], `de-identification added IOD errors:\n${failures.join('\n')}`)
    assert.ok(compared >= 12, `only ${compared} comparisons ran`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
