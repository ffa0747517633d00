/**
 * Byte-for-byte stability of the engine's output: the same input, policy and secret must give the same bytes
 * (pseudonyms and UIDs link objects across runs and releases). The hashes were recorded from the engine before
 * the throughput work of issue 3; a change here is a change of output, never a refactoring. The input's hash is
 * checked first, so a changed synthetic generator says so instead of blaming the engine.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { synthStudies, type SynthOptions } from '@kura/dicom/synth'
import { BASIC_POLICY } from '../policy/policy.ts'
import { parsePolicy } from '../policy/schema.ts'
import { deidentifyBytes } from './bytes.ts'
import { deidentifyFile } from './deidentify-file.ts'

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex').slice(0, 24)
const SECRET = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff)
const MODIFIED = parsePolicy({ id: 'stable', version: '1', profile: 'basic', options: ['retainLongitudinalModifiedDates', 'cleanDescriptors', 'retainPatientCharacteristics'] }, 'test')

interface Case { name: string; synth: SynthOptions; pick: number; input: string; basic: string; modified: string }

// Recorded with RECORD=1 (prints the table) from the engine as it was before the change.
const SMALL = { CT: { rows: 64, columns: 64 }, MR: { rows: 32, columns: 32 } }
const CASES: Case[] = [
  { name: "CT ir87 seed 1", synth: { studies: 3, seriesPerStudy: 1, instancesPerSeries: 2, seed: 1, modality: "CT", charset: "ir87", sizes: SMALL }, pick: 4,
    input: "213ff361dedf3e4017213b9d", basic: "78af1797be09c76e0b023f11", modified: "0497b3655f3328f8e14d8283" },
  { name: "MR ir87 seed 1", synth: { studies: 3, seriesPerStudy: 1, instancesPerSeries: 2, seed: 1, modality: "MR", charset: "ir87", sizes: SMALL }, pick: 4,
    input: "2f50f0ecdb3ffb14eb273243", basic: "a6d4651f799c2e7d407339eb", modified: "3c375364f9fc5fdc17a0ad60" },
  { name: "CT ir192 seed 2", synth: { studies: 3, seriesPerStudy: 1, instancesPerSeries: 2, seed: 2, modality: "CT", charset: "ir192", sizes: SMALL }, pick: 4,
    input: "4353f01fc17daa2d76271a6a", basic: "2c47094468b8c2cdd9554a92", modified: "3bf7ec6973780d2af270562a" },
  { name: "MR ir192 seed 2", synth: { studies: 3, seriesPerStudy: 1, instancesPerSeries: 2, seed: 2, modality: "MR", charset: "ir192", sizes: SMALL }, pick: 4,
    input: "a13e70d63f17152409edcbd6", basic: "33617d5808939c0789ba393d", modified: "13b3c193c697271ed2e7a030" },
  { name: "CT mixed seed 3", synth: { studies: 3, seriesPerStudy: 1, instancesPerSeries: 2, seed: 3, modality: "CT", charset: "mixed", sizes: SMALL }, pick: 4,
    input: "cd979a33dd7e5ae9c936f3cf", basic: "8f1be990852164dabbc2af66", modified: "e0eee8867045b8912befd976" },
  { name: "MR mixed seed 3", synth: { studies: 3, seriesPerStudy: 1, instancesPerSeries: 2, seed: 3, modality: "MR", charset: "mixed", sizes: SMALL }, pick: 4,
    input: "fc37a5652b2c32451ee6b38e", basic: "ddbcd10153c194bfed03c015", modified: "f27a46c161a7ec044389c728" },
  { name: "CT 2100×2100 streamed (over SMALL_OBJECT_BYTES)", synth: { studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed: 2, modality: "CT", sizes: { CT: { rows: 2100, columns: 2100 } } }, pick: 0,
    input: "7315149a8a840ae06af2d44a", basic: "59a0ae440376a2c3a4a03fc5", modified: "06f802803e0177a56e094e88" },
]

const instance = (c: Pick<Case, 'synth' | 'pick'>) => [...synthStudies(c.synth)][c.pick]!

describe('de-identified output is byte-identical for the same input, policy and secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-deid-stable-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  for (const c of CASES) {
    it(c.name, async () => {
      const inst = instance(c)
      assert.equal(sha(inst.bytes), c.input, 'the synthetic input changed (packages/dicom/src/synth): re-record the hashes from the engine as it was')
      const ctx = { secret: SECRET, collection: 'stable' }
      assert.equal(sha((await deidentifyBytes(inst.bytes, { ...ctx, policy: BASIC_POLICY })).output), c.basic, 'BASIC_POLICY output changed')
      assert.equal(sha((await deidentifyBytes(inst.bytes, { ...ctx, policy: MODIFIED })).output), c.modified, 'options policy output changed')
      // The file-level entry point writes the same bytes (and says so in its hash).
      const input = join(dir, `${c.name}.dcm`)
      writeFileSync(input, inst.bytes)
      const r = await deidentifyFile(input, join(dir, `${c.name}.out`), { ...ctx, policy: BASIC_POLICY })
      assert.ok(r.kind === 'clean' || r.kind === 'quarantined', r.kind)
      if (r.kind === 'clean' || r.kind === 'quarantined') assert.equal(r.sha256.slice(0, 24), c.basic)
    })
  }
})

if (process.env.RECORD) {
  const specs: Array<Pick<Case, 'name' | 'synth' | 'pick'>> = []
  for (const [charset, seed] of [['ir87', 1], ['ir192', 2], ['mixed', 3]] as const) {
    for (const modality of ['CT', 'MR'] as const) {
      specs.push({ name: `${modality} ${charset} seed ${seed}`, synth: { studies: 3, seriesPerStudy: 1, instancesPerSeries: 2, seed, modality, charset, sizes: SMALL }, pick: 4 })
    }
  }
  specs.push({ name: 'CT 2100×2100 streamed (over SMALL_OBJECT_BYTES)', synth: { studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed: 2, modality: 'CT', sizes: { CT: { rows: 2100, columns: 2100 } } }, pick: 0 })
  const out: Case[] = []
  for (const s of specs) {
    const inst = instance(s)
    const ctx = { secret: SECRET, collection: 'stable' }
    out.push({ ...s, input: sha(inst.bytes), basic: sha((await deidentifyBytes(inst.bytes, { ...ctx, policy: BASIC_POLICY })).output), modified: sha((await deidentifyBytes(inst.bytes, { ...ctx, policy: MODIFIED })).output) })
  }
  console.log(JSON.stringify(out, null, 2))
}
