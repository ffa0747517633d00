import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Tags, getString, readDicomBuffer, writeDicom } from '@kura/dicom'

const BIN = fileURLToPath(new URL('../../bin/kura.js', import.meta.url))
const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data'
const SAMPLES: Array<[string, string]> = [
  [join(PYDICOM, 'test_files/CT_small.dcm'), 'CT_small.dcm'],
  [join(PYDICOM, 'test_files/MR_small.dcm'), 'MR_small.dcm'],
  [join(PYDICOM, 'charset_files/chrH31.dcm'), join('ja', 'chrH31.dcm')],
]
const haveSamples = SAMPLES.every(([p]) => existsSync(p))

function kura(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

const tmp = () => mkdtempSync(join(tmpdir(), 'kura-deid-'))

async function initSecret(root: string): Promise<string> {
  const key = join(root, 'site.key')
  const r = await kura(['deid', '--init-secret', key])
  assert.equal(r.status, 0, r.stdout + r.stderr)
  return key
}

/** Where an output landed: the clean tree or quarantine (exactly one of them). */
function landed(out: string, rel: string): { where: 'clean' | 'quarantine'; path: string } {
  const clean = join(out, rel)
  const q = join(out, 'quarantine', rel)
  assert.ok(existsSync(clean) !== existsSync(q), `${rel} must be in exactly one of the clean tree and quarantine`)
  if (existsSync(q)) assert.ok(existsSync(`${q}.reason.json`), `${rel} quarantined without a reason file`)
  return existsSync(clean) ? { where: 'clean', path: clean } : { where: 'quarantine', path: q }
}

test('--init-secret creates a 0600 secret file and refuses to overwrite it', async () => {
  const root = tmp()
  try {
    const key = await initSecret(root)
    if (process.platform !== 'win32') assert.equal(statSync(key).mode & 0o777, 0o600)
    assert.match(readFileSync(key, 'utf8'), /^[0-9a-f]{64}\n$/)
    const again = await kura(['deid', '--init-secret', key])
    assert.equal(again.status, 1, again.stdout + again.stderr)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('missing --secret-file is a usage error that says how to create one', async () => {
  const root = tmp()
  try {
    const r = await kura(['deid', root, join(root, 'out')])
    assert.equal(r.status, 2, r.stdout + r.stderr)
    assert.match(r.stderr, /--secret-file is required/)
    assert.match(r.stderr, /--init-secret/)
    const none = await kura(['deid', '--secret-file', 'x'])
    assert.equal(none.status, 2)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('--help describes the verb', async () => {
  const r = await kura(['deid', '--help'])
  assert.equal(r.status, 0)
  assert.match(r.stdout, /^Usage: kura deid/)
  assert.match(r.stdout, /--secret-file/)
})

test('pydicom samples + junk: junk rejected (exit 1), outputs de-identified and deterministic', { skip: !haveSamples && 'pydicom test files not installed' }, async () => {
  const root = tmp()
  try {
    const key = await initSecret(root)
    const input = join(root, 'in')
    mkdirSync(join(input, 'ja'), { recursive: true })
    for (const [src, rel] of SAMPLES) copyFileSync(src, join(input, rel))
    writeFileSync(join(input, 'notes.txt'), 'not a DICOM file at all')

    const outA = join(root, 'outA')
    const a = await kura(['deid', input, outA, '--secret-file', key])
    assert.equal(a.status, 1, a.stdout + a.stderr)
    assert.match(a.stdout, /rejected +1/)
    assert.match(a.stdout, /failed +0/)
    assert.match(a.stdout, /notes\.txt\n +rejected: /)
    assert.ok(!existsSync(join(outA, 'notes.txt')))
    assert.ok(!existsSync(join(outA, 'quarantine', 'notes.txt')))
    assert.ok(!existsSync(join(outA, '.tmp')), 'temp folder is removed')

    // All three come out clean; MR_small's unchanged Manufacturer TOSHIBA_MEC contains its InstitutionName
    // TOSHIBA, which the verifier allows only because the vendor string is the source's, byte for byte.
    assert.equal(landed(outA, 'CT_small.dcm').where, 'clean')
    assert.equal(landed(outA, 'MR_small.dcm').where, 'clean')
    assert.equal(landed(outA, join('ja', 'chrH31.dcm')).where, 'clean')
    for (const [src, rel] of SAMPLES) {
      const where = landed(outA, rel)
      const original = readDicomBuffer(readFileSync(src), { bulkDataThreshold: 64 * 1024 })
      const out = readDicomBuffer(readFileSync(where.path), { bulkDataThreshold: 64 * 1024 })
      assert.equal(getString(out.dataset, 0x00120062), 'YES', rel)
      assert.notEqual(getString(out.dataset, Tags.PatientName), getString(original.dataset, Tags.PatientName), rel)
    }

    const outB = join(root, 'outB')
    const b = await kura(['deid', input, outB, '--secret-file', key])
    assert.equal(b.status, 1, b.stdout + b.stderr)
    for (const [, rel] of SAMPLES) {
      const pa = landed(outA, rel)
      const pb = landed(outB, rel)
      assert.equal(pa.where, pb.where, rel)
      assert.ok(Buffer.from(readFileSync(pa.path)).equals(readFileSync(pb.path)), `${rel}: identical bytes on a second run`)
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('a kept description holding the patient\'s name is quarantined with a reason that never shows the name', async () => {
  const root = tmp()
  try {
    const key = await initSecret(root)
    const input = join(root, 'in')
    mkdirSync(input)
    const file = writeDicom({
      meta: { MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.7', MediaStorageSOPInstanceUID: '1.2.3.4.5.6' },
      dataset: [
        { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
        { tag: Tags.SOPClassUID, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
        { tag: Tags.SOPInstanceUID, vr: 'UI', value: '1.2.3.4.5.6' },
        { tag: 0x00081030, vr: 'LO', value: '山田 太郎 follow-up' },
        { tag: Tags.PatientName, vr: 'PN', value: 'Yamada^Tarou=山田^太郎=やまだ^たろう' },
        { tag: Tags.PatientID, vr: 'LO', value: 'PID-123456' },
        { tag: Tags.StudyInstanceUID, vr: 'UI', value: '1.2.3.4.5' },
        { tag: Tags.SeriesInstanceUID, vr: 'UI', value: '1.2.3.4.5.1' },
      ],
    })
    writeFileSync(join(input, 'yamada.dcm'), file)
    const policy = join(root, 'keep-description.json')
    writeFileSync(policy, JSON.stringify({ id: 'keep-description', version: '1', profile: 'basic', overrides: [{ tag: '00081030', action: 'K' }] }))

    // Under the basic policy the description is removed: clean.
    const basic = await kura(['deid', input, join(root, 'basic'), '--secret-file', key])
    assert.equal(basic.status, 0, basic.stdout + basic.stderr)
    assert.equal(landed(join(root, 'basic'), 'yamada.dcm').where, 'clean')

    // Keeping it leaks the name: quarantined, never in the clean tree.
    const out = join(root, 'out')
    const r = await kura(['deid', input, out, '--secret-file', key, '--policy', policy, '--collection', 'trial-1'])
    assert.equal(r.status, 1, r.stdout + r.stderr)
    assert.match(r.stdout, /quarantined +1/)
    assert.match(r.stdout, /cleaned +0/)
    assert.ok(!r.stdout.includes('山田'), 'summary never prints the name')
    const where = landed(out, 'yamada.dcm')
    assert.equal(where.where, 'quarantine')
    const reasonText = readFileSync(`${where.path}.reason.json`, 'utf8')
    assert.ok(!reasonText.includes('山田'), 'reason never contains the name')
    const reason = JSON.parse(reasonText) as { findings: Array<{ path: string; reason: string }> }
    assert.ok(reason.findings.some((f) => f.path === '00081030'), reasonText)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('deid --reid records pseudonyms and new UIDs; lookup finds them, logs every attempt; the log detects tampering', async () => {
  const root = tmp()
  try {
    const secret = await initSecret(root)
    const operatorKey = join(root, 'operator.key')
    assert.equal((await kura(['deid', '--init-secret', operatorKey])).status, 0)
    const input = join(root, 'in')
    mkdirSync(input)
    writeFileSync(join(input, 'a.dcm'), writeDicom({
      meta: { MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.7', MediaStorageSOPInstanceUID: '1.2.3.4.5.6' },
      dataset: [
        { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
        { tag: Tags.SOPClassUID, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
        { tag: Tags.SOPInstanceUID, vr: 'UI', value: '1.2.3.4.5.6' },
        { tag: Tags.PatientName, vr: 'PN', value: 'Yamada^Tarou=山田^太郎=やまだ^たろう' },
        { tag: Tags.PatientID, vr: 'LO', value: 'PID-123456' },
        { tag: 0x00100030, vr: 'DA', value: '19800301' },
        { tag: Tags.StudyInstanceUID, vr: 'UI', value: '1.2.3.4.5' },
        { tag: Tags.SeriesInstanceUID, vr: 'UI', value: '1.2.3.4.5.1' },
      ],
    }))
    const reid = join(root, 'site', 'reid.db')
    mkdirSync(join(root, 'site'))
    const usage = await kura(['deid', input, join(root, 'x'), '--secret-file', secret, '--reid', reid])
    assert.equal(usage.status, 2, 'reid without key file is a usage error')
    const out = join(root, 'out')
    const r = await kura(['deid', input, out, '--secret-file', secret, '--reid', reid, '--key-file', operatorKey, '--collection', 'trial'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    if (process.platform !== 'win32') assert.equal(statSync(reid).mode & 0o777, 0o600)
    const written = readDicomBuffer(readFileSync(join(out, 'a.dcm')))
    const pseudonym = getString(written.dataset, Tags.PatientID)!
    const newSop = getString(written.dataset, Tags.SOPInstanceUID)!

    const lookup = (...args: string[]) => kura(['deid', 'lookup', '--reid', reid, '--key-file', operatorKey, '--collection', 'trial', ...args])
    const found = await lookup('--reason', 'IRB request 2026-17', pseudonym)
    assert.equal(found.status, 0, found.stdout + found.stderr)
    assert.match(found.stdout, /PID-123456/)
    assert.match(found.stdout, /山田\^太郎/)
    assert.match(found.stdout, /19800301/)
    const byUid = await lookup(newSop)
    assert.equal(byUid.status, 0, byUid.stdout + byUid.stderr)
    assert.match(byUid.stdout, /SOPInstanceUID/)
    assert.match(byUid.stdout, /original UID: +1\.2\.3\.4\.5\.6\n/)
    assert.match(byUid.stdout, /PID-123456/)
    const missing = await lookup('KNOTAPSEUDONYM00')
    assert.equal(missing.status, 1, missing.stdout + missing.stderr)
    assert.match(missing.stdout, /No entry/)
    const otherCollection = await kura(['deid', 'lookup', '--reid', reid, '--key-file', operatorKey, pseudonym])
    assert.equal(otherCollection.status, 1, 'the pseudonym is only known in its collection')

    // The site secret is not the operator key: refused clearly, and the attempt is logged.
    const wrong = await kura(['deid', 'lookup', '--reid', reid, '--key-file', secret, '--collection', 'trial', pseudonym])
    assert.equal(wrong.status, 1)
    assert.match(wrong.stderr, /DEID_REID_WRONG_KEY/)
    assert.match(wrong.stderr, /operator\.key/, 'names the key file the table expects')
    const nowhere = await kura(['deid', 'lookup', '--reid', join(root, 'nope.db'), '--key-file', operatorKey, pseudonym])
    assert.match(nowhere.stderr, /DEID_REID_MISSING/)
    assert.ok(!existsSync(join(root, 'nope.db')), 'a lookup never creates a table')

    const logPath = `${reid}.audit.jsonl`
    const log = readFileSync(logPath, 'utf8')
    const entries = log.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.deepEqual(entries.map((e) => e.outcome), ['found', 'found', 'not-found', 'not-found', 'wrong-key'])
    assert.deepEqual(entries.map((e) => e.kind), ['pseudonym', 'uid', 'pseudonym', 'pseudonym', 'pseudonym'])
    assert.equal(entries[0]!.reason, 'IRB request 2026-17')
    assert.equal(entries[1]!.reason, null)
    assert.ok(entries.every((e) => typeof e.who === 'string' && (e.who as string).length > 0))
    assert.equal(entries[4]!.asked, null)
    assert.match(String(entries[0]!.asked), /^[0-9a-f]{64}$/)
    for (const secretValue of [pseudonym, newSop, 'PID-123456', '山田', '1.2.3.4.5.6']) assert.ok(!log.includes(secretValue), `the log never holds ${secretValue}`)
    if (process.platform !== 'win32') assert.equal(statSync(logPath).mode & 0o777, 0o600)

    const ok = await kura(['deid', 'lookup', '--reid', reid, '--verify-log'])
    assert.equal(ok.status, 0, ok.stdout + ok.stderr)
    assert.match(ok.stdout, /5 entries, head hash [0-9a-f]{64}/)
    // Edit one entry's reason: the chain breaks there.
    const lines = log.trim().split('\n')
    lines[1] = lines[1]!.replace('"reason":null', '"reason":"routine"')
    writeFileSync(logPath, lines.join('\n') + '\n')
    const broken = await kura(['deid', 'lookup', '--reid', reid, '--verify-log'])
    assert.equal(broken.status, 1, broken.stdout + broken.stderr)
    assert.match(broken.stdout, /BROKEN at entry 2 of 5: its content does not match its hash/)
    // Remove an entry in the middle: the next one's link no longer holds.
    writeFileSync(logPath, [log.trim().split('\n')[0], ...log.trim().split('\n').slice(2)].join('\n') + '\n')
    const removed = await kura(['deid', 'lookup', '--reid', reid, '--verify-log'])
    assert.match(removed.stdout, /BROKEN at entry 2 of 4: its link to the previous entry/)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('--policy takes a YAML file', async () => {
  const root = tmp()
  try {
    const key = await initSecret(root)
    const input = join(root, 'in.dcm')
    writeFileSync(input, writeDicom({
      meta: { MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.7', MediaStorageSOPInstanceUID: '1.2.3.9' },
      dataset: [
        { tag: Tags.SOPClassUID, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
        { tag: Tags.SOPInstanceUID, vr: 'UI', value: '1.2.3.9' },
        { tag: Tags.PatientID, vr: 'LO', value: 'P-77' },
        { tag: 0x00100040, vr: 'CS', value: 'F' },
      ],
    }))
    const policy = join(root, 'p.yaml')
    writeFileSync(policy, 'id: keep-sex\nversion: "2"\nprofile: basic\noverrides:\n  - tag: 00100040\n    action: K\n')
    const r = await kura(['deid', input, join(root, 'out'), '--secret-file', key, '--policy', policy])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    const out = readDicomBuffer(readFileSync(join(root, 'out', 'in.dcm')))
    assert.equal(getString(out.dataset, 0x00100040), 'F')
    assert.equal(getString(out.dataset, 0x00120063), 'KURA keep-sex 2')
    writeFileSync(policy, 'id: keep-sex\nversion: 2\nprofile: basic\n')
    const bad = await kura(['deid', input, join(root, 'out2'), '--secret-file', key, '--policy', policy])
    assert.equal(bad.status, 1)
    assert.match(bad.stderr, /\$\.version \(line 2\)/)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('a folder on worker threads: the same outputs, quarantine, rejections, exit code and re-identification table as one thread', async () => {
  const root = tmp()
  try {
    const secret = await initSecret(root)
    const operatorKey = join(root, 'operator.key')
    assert.equal((await kura(['deid', '--init-secret', operatorKey])).status, 0)
    const input = join(root, 'in')
    const rels: string[] = []
    // 20 objects in 4 folders; the description of every seventh holds the patient's name (quarantined under the policy).
    for (let n = 0; n < 20; n++) {
      const rel = join(`study${n % 4}`, `obj${n}.dcm`)
      mkdirSync(join(input, `study${n % 4}`), { recursive: true })
      writeFileSync(join(input, rel), writeDicom({
        meta: { MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.7', MediaStorageSOPInstanceUID: `1.2.3.4.${n}` },
        dataset: [
          { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
          { tag: Tags.SOPClassUID, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
          { tag: Tags.SOPInstanceUID, vr: 'UI', value: `1.2.3.4.${n}` },
          { tag: 0x00081030, vr: 'LO', value: n % 7 === 0 ? `Suzuki${n} follow-up` : 'follow-up' },
          { tag: Tags.PatientName, vr: 'PN', value: `Suzuki${n}^Hanako=鈴木^花子` },
          { tag: Tags.PatientID, vr: 'LO', value: `PID-${1000 + n}` },
          { tag: Tags.StudyInstanceUID, vr: 'UI', value: `1.2.3.${n % 4}` },
          { tag: Tags.SeriesInstanceUID, vr: 'UI', value: `1.2.3.${n % 4}.1` },
        ],
      }))
      rels.push(rel)
    }
    writeFileSync(join(input, 'study1', 'junk.dcm'), 'not a DICOM file at all')
    const policy = join(root, 'keep-description.json')
    writeFileSync(policy, JSON.stringify({ id: 'keep-description', version: '1', profile: 'basic', overrides: [{ tag: '00081030', action: 'K' }] }))

    const runs: Record<string, { out: string; reid: string }> = {}
    for (const threads of ['2', '1']) {
      const out = join(root, `out${threads}`)
      const reid = join(root, `reid${threads}.db`)
      // On 2 threads the worker gets every file (this thread would otherwise finish these few before it has loaded).
      const r = await kura(['deid', input, out, '--secret-file', secret, '--policy', policy, '--threads', threads, '--reid', reid, '--key-file', operatorKey], { KURA_DEID_WORKERS_ONLY: '1' })
      assert.equal(r.status, 1, r.stdout + r.stderr)
      assert.match(r.stdout, /21 files/)
      if (threads === '2') assert.match(r.stdout, /files\/s on 2 threads\n/)
      else assert.doesNotMatch(r.stdout, / threads\n/)
      assert.match(r.stdout, /cleaned +17\n +quarantined +3\n +rejected +1\n +failed +0/)
      assert.match(r.stdout, /junk\.dcm\n +rejected: /)
      assert.ok(!existsSync(join(out, '.tmp')), 'temp folder is removed')
      runs[threads] = { out, reid }
    }
    for (const rel of rels) {
      const a = landed(runs['2']!.out, rel)
      const b = landed(runs['1']!.out, rel)
      assert.equal(a.where, b.where, rel)
      assert.equal(a.where, /obj(0|7|14)\.dcm$/.test(rel) ? 'quarantine' : 'clean', rel)
      assert.ok(readFileSync(a.path).equals(readFileSync(b.path)), `${rel}: the same bytes on threads as in one thread`)
      if (a.where === 'quarantine') assert.equal(readFileSync(`${a.path}.reason.json`, 'utf8'), readFileSync(`${b.path}.reason.json`, 'utf8'))
    }
    // The table the main thread wrote from the workers' outcomes answers for a clean and a quarantined output.
    for (const rel of [rels[3]!, rels[7]!]) {
      const written = readDicomBuffer(readFileSync(landed(runs['2']!.out, rel).path))
      const found = await kura(['deid', 'lookup', '--reid', runs['2']!.reid, '--key-file', operatorKey, getString(written.dataset, Tags.PatientID)!])
      assert.equal(found.status, 0, found.stdout + found.stderr)
      assert.match(found.stdout, new RegExp(`PID-${1000 + Number(/obj(\d+)/.exec(rel)![1])}`))
      assert.match(found.stdout, /鈴木\^花子/)
      const byUid = await kura(['deid', 'lookup', '--reid', runs['2']!.reid, '--key-file', operatorKey, getString(written.dataset, Tags.SOPInstanceUID)!])
      assert.equal(byUid.status, 0, byUid.stdout + byUid.stderr)
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
