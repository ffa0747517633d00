import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { python } from '../testkit.ts'
import { readDicomBuffer } from '../reader.ts'
import { synthStudies, synthStudiesAsync, writeCorpus, type SynthInstance } from './corpus.ts'
import type { SynthOptions } from './datasets.ts'

const small: Record<'CT' | 'MR' | 'ES', { rows: number; columns: number }> = { CT: { rows: 64, columns: 64 }, MR: { rows: 48, columns: 48 }, ES: { rows: 60, columns: 80 } }

async function collect(opts: SynthOptions): Promise<SynthInstance[]> {
  const out: SynthInstance[] = []
  for await (const i of synthStudiesAsync(opts)) out.push(i)
  return out
}

/** One file of every modality and character set, native and JPEG endoscopy. */
async function sampler(): Promise<SynthInstance[]> {
  const picked: SynthInstance[] = []
  const seen = new Set<string>()
  for (const charset of ['ir87', 'ir192'] as const) {
    for (const modality of ['CT', 'MR', 'ES'] as const) {
      for (const inst of await collect({ studies: 6, seriesPerStudy: 1, instancesPerSeries: 1, seed: 11, modality, charset, esPixels: 'mixed', sizes: small })) {
        const key = `${inst.modality}/${inst.charset}/${inst.transferSyntaxUID}`
        if (!seen.has(key)) {
          seen.add(key)
          picked.push(inst)
        }
      }
    }
  }
  return picked
}

test('files parse with pydicom, which decodes every name group exactly as generated', async () => {
  const picked = await sampler()
  const kinds = new Set(picked.map((p) => `${p.modality}/${p.charset}`))
  for (const k of ['CT/ir87', 'CT/ir13', 'CT/ir192', 'MR/ir87', 'MR/ir13', 'MR/ir192', 'ES/ir87', 'ES/ir13', 'ES/ir192']) assert.ok(kinds.has(k), `sample lacks ${k}`)
  assert.ok(picked.some((p) => p.transferSyntaxUID === '1.2.840.10008.1.2.4.50'), 'a JPEG endoscopy file')
  const dir = mkdtempSync(join(tmpdir(), 'kura-synth-'))
  try {
    const paths = picked.map((p, i) => {
      const f = join(dir, `${i}.dcm`)
      writeFileSync(f, p.bytes)
      return f
    })
    const out = JSON.parse(python(`
res = []
for p in sys.argv[1:]:
    d = pydicom.dcmread(p)
    c = list(d.PatientName.components) + ['', '', '']
    res.append({'a': c[0], 'i': c[1], 'p': c[2], 'sop': d.SOPInstanceUID, 'mod': d.Modality,
                'inst': str(d.InstitutionName), 'ref': str(d.ReferringPhysicianName), 'ts': d.file_meta.TransferSyntaxUID,
                'rows': d.Rows, 'cols': d.Columns})
print(json.dumps(res))`, paths)) as Array<Record<string, string | number>>
    out.forEach((r, i) => {
      const p = picked[i]
      const what = `${p.modality}/${p.charset}`
      assert.equal(r.a, p.patientName.Alphabetic, what)
      assert.equal(r.i, p.patientName.Ideographic, what)
      assert.equal(r.p, p.patientName.Phonetic, what)
      assert.equal(r.sop, p.sopInstanceUid)
      assert.equal(r.mod, p.modality)
      assert.equal(r.ts, p.transferSyntaxUID)
      assert.match(String(r.inst), /病院|センター|クリニック/, `${what} institution decoded: ${r.inst}`)
      assert.match(String(r.ref), /^[A-Z][a-z]+\^[A-Z][a-z]+=[^=]+\^[^=]+=[^=]+\^[^=]+$/, `${what} referring physician: ${r.ref}`)
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('files pass dcmdump and DCMTK decodes their pixel data (native and JPEG)', async () => {
  const picked = await sampler()
  const dir = mkdtempSync(join(tmpdir(), 'kura-synth-'))
  try {
    for (const [i, p] of picked.entries()) {
      const f = join(dir, `${i}.dcm`)
      writeFileSync(f, p.bytes)
      const dump = spawnSync('dcmdump', ['-E', '+L', f], { encoding: 'utf8' })
      assert.equal(dump.status, 0, `dcmdump ${p.modality}/${p.charset}: ${dump.stderr}`)
      assert.doesNotMatch(dump.stderr, /^E:|^W:/m, `dcmdump warnings for ${p.modality}/${p.charset}: ${dump.stderr}`)
      assert.match(dump.stdout, /\(0010,0010\) PN /)
      const png = join(dir, `${i}.png`)
      const render = spawnSync('dcmj2pnm', ['--write-png', f, png], { encoding: 'utf8' })
      assert.equal(render.status, 0, `dcmj2pnm ${p.modality} ${p.transferSyntaxUID}: ${render.stderr}`)
      assert.ok(statSync(png).size > 100)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('our own reader reads them back: UIDs, pixel data length, one JPEG fragment', async () => {
  for (const p of await sampler()) {
    const parsed = readDicomBuffer(p.bytes)
    const text = (tag: number) => Buffer.from(parsed.dataset.elements.get(tag)!.bytes!).toString('latin1').replace(/[\0 ]+$/, '')
    assert.equal(text(0x00080018), p.sopInstanceUid)
    assert.equal(text(0x0020000d), p.studyInstanceUid)
    assert.equal(parsed.transferSyntaxUID, p.transferSyntaxUID)
    const px = parsed.dataset.elements.get(0x7fe00010)!
    const { rows, columns: cols } = small[p.modality]
    if (p.transferSyntaxUID === '1.2.840.10008.1.2.4.50') {
      assert.equal(px.fragments!.length, 2) // empty offset table + one frame
      assert.equal(px.fragments![0].length, 0)
      const frag = p.bytes.subarray(px.fragments![1].offset, px.fragments![1].offset + 2)
      assert.deepEqual([...frag], [0xff, 0xd8]) // SOI
    } else {
      assert.equal(px.length, rows * cols * (p.modality === 'ES' ? 3 : 2))
    }
  }
})

test('deterministic: the same options give the same bytes', () => {
  const opts: SynthOptions = { studies: 2, seriesPerStudy: 1, instancesPerSeries: 2, seed: 5, modality: 'CT', sizes: small }
  const a = [...synthStudies(opts)]
  const b = [...synthStudies(opts)]
  assert.equal(a.length, 4)
  a.forEach((x, i) => assert.deepEqual(x.bytes, b[i].bytes))
})

test('the synchronous generator refuses JPEG endoscopy and points at the async one', () => {
  assert.throws(() => [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, modality: 'ES', esPixels: 'jpeg' })], /synthStudiesAsync/)
})

test('writeCorpus writes study/series/n.dcm and reports counts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-synth-'))
  try {
    const seen: string[] = []
    const r = await writeCorpus(dir, { studies: 2, seriesPerStudy: 2, instancesPerSeries: 3, seed: 1, sizes: small, esPixels: 'jpeg' }, (i) => seen.push(i.path))
    assert.equal(r.files, 12)
    assert.equal(r.studies, 2)
    assert.deepEqual(readdirSync(dir).sort(), ['0001', '0002'])
    assert.deepEqual(readdirSync(join(dir, '0001')).sort(), ['001', '002'])
    assert.deepEqual(readdirSync(join(dir, '0001', '001')).sort(), ['0001.dcm', '0002.dcm', '0003.dcm'])
    const total = seen.reduce((n, p) => n + readFileSync(join(dir, p)).length, 0)
    assert.equal(total, r.bytes)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
