import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Tags, getString } from '@kura/dicom'
import { synthStudies } from '@kura/dicom/synth'
import { generateSecret } from '../keys/secret.ts'
import { BASIC_POLICY } from '../policy/policy.ts'
import { parsePolicy } from '../policy/schema.ts'
import { SMALL_OBJECT_BYTES } from './bytes.ts'
import { deidentifyFile } from './deidentify-file.ts'

describe('deidentifyFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-deid-file-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const secret = generateSecret()
  const opts = { policy: BASIC_POLICY, secret, collection: 'c' }
  const write = (name: string, bytes: Uint8Array) => {
    const p = join(dir, name)
    writeFileSync(p, bytes)
    return p
  }
  const [small] = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, modality: 'CT', sizes: { CT: { rows: 64, columns: 64 } } })]
  const [large] = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, modality: 'CT', seed: 2, sizes: { CT: { rows: 2100, columns: 2100 } } })]

  for (const [name, inst] of [['small (in memory)', small!], ['large (streamed)', large!]] as const) {
    it(`${name}: clean, with the output's hash and its parsed dataset`, async () => {
      assert.equal(inst.bytes.length > SMALL_OBJECT_BYTES, name.startsWith('large'))
      const input = write(`${name}.dcm`, inst.bytes)
      const out = join(dir, `${name}.out`)
      const r = await deidentifyFile(input, out, opts)
      assert.equal(r.kind, 'clean', JSON.stringify(r.kind === 'quarantined' ? r.findings : r))
      if (r.kind !== 'clean') return
      const bytes = readFileSync(out)
      assert.equal(r.sha256, createHash('sha256').update(bytes).digest('hex'))
      assert.equal(r.bytes, bytes.length)
      assert.notEqual(getString(r.written.dataset, Tags.PatientID), inst.patientId)
      assert.notEqual(getString(r.written.dataset, Tags.StudyInstanceUID), inst.studyInstanceUid)
    })
  }

  it('quarantines what the verification finds (a policy that keeps the name), with the output kept for review', async () => {
    const leaky = parsePolicy({ id: 'leaky', version: '1', profile: 'basic', overrides: [{ tag: '00100010', action: 'K' }] }, 'test')
    const out = join(dir, 'leaky.out')
    const r = await deidentifyFile(write('leaky.dcm', small!.bytes), out, { ...opts, policy: leaky })
    assert.equal(r.kind, 'quarantined')
    if (r.kind === 'quarantined') assert.ok(r.findings.some((f) => f.keyword === 'PatientName'), JSON.stringify(r.findings.map((f) => f.keyword)))
    assert.ok(existsSync(out))
  })

  it('says a non-DICOM input is unreadable and writes nothing', async () => {
    const out = join(dir, 'text.out')
    const r = await deidentifyFile(write('notes.txt', Buffer.from('not dicom at all, just words '.repeat(20))), out, opts)
    assert.equal(r.kind, 'unreadable')
    assert.ok(!existsSync(out))
  })

  it('never overwrites or removes an existing output file', async () => {
    const out = write('taken.out', Buffer.from('someone else'))
    await assert.rejects(deidentifyFile(write('again.dcm', small!.bytes), out, opts), (e: any) => e.code === 'EEXIST')
    assert.equal(readFileSync(out, 'utf8'), 'someone else')
  })
})
