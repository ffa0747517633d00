import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { VERBS, mainHelp } from './main.ts'
import { UsageError, choiceFlag, intFlag, parseFlags, urlFlag } from './args.ts'
import { walk } from './walk.ts'
import { Progress } from './progress.ts'
import { redactUrl } from './commands/hub.ts'

const BIN = fileURLToPath(new URL('../bin/kura.js', import.meta.url))
const kura = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, KURA_DATA_DIR: undefined } })

test('kura --help lists every verb with one line; --version prints the version', () => {
  const r = kura('--help')
  assert.equal(r.status, 0)
  for (const verb of Object.keys(VERBS)) assert.match(r.stdout, new RegExp(`^  ${verb} +\\S`, 'm'))
  assert.equal(r.stdout, mainHelp())
  const v = kura('--version')
  assert.equal(v.status, 0)
  assert.match(v.stdout, /^kura \d+\.\d+\.\d+\n$/)
})

test('every verb has --help', async () => {
  for (const [name, verb] of Object.entries(VERBS)) {
    const mod = await verb.load()
    assert.match(mod.help, new RegExp(`^Usage: kura ${name}`), name)
  }
  const r = kura('import', '--help')
  assert.equal(r.status, 0)
  assert.match(r.stdout, /--collection/)
})

test('unknown flags and commands exit 2 with a message naming them', () => {
  const a = kura('import', '--colection', 'x', 'dir')
  assert.equal(a.status, 2)
  assert.match(a.stderr, /--colection/)
  assert.match(a.stderr, /kura import --help/)
  const b = kura('frobnicate')
  assert.equal(b.status, 2)
  assert.match(b.stderr, /Unknown command "frobnicate"/)
  const c = kura('synth', 'dicom', '--out', '/tmp/x', '--studies', 'many')
  assert.equal(c.status, 2)
  assert.match(c.stderr, /--studies must be a whole number/)
})

test('kura bench names the missing module and exits 2', () => {
  const r = kura('bench', 'no-such-bench')
  assert.equal(r.status, 2)
  assert.match(r.stderr, /bench\/no-such-bench\.ts is missing/)
  const bad = kura('bench', '../etc/passwd')
  assert.equal(bad.status, 2)
})

test('flag helpers: numbers, choices, URLs', () => {
  assert.equal(intFlag('x', 'n', undefined, 4), 4)
  assert.equal(intFlag('x', 'n', '12', 4), 12)
  assert.throws(() => intFlag('x', 'n', '1.5', 4), UsageError)
  assert.throws(() => intFlag('x', 'n', '0', 4, 1), /from 1/)
  assert.equal(choiceFlag('x', 'm', 'CT', ['CT', 'MR'] as const, 'MR'), 'CT')
  assert.throws(() => choiceFlag('x', 'm', 'XA', ['CT', 'MR'] as const, 'MR'), /one of CT, MR/)
  assert.equal(urlFlag('x', 'http://127.0.0.1:8080/'), 'http://127.0.0.1:8080')
  assert.throws(() => urlFlag('x', 'ftp://host'), UsageError)
  assert.throws(() => parseFlags('x', ['--nope'], {}), (e: Error) => e instanceof UsageError && /--nope/.test(e.message))
  assert.equal(redactUrl('postgres://kura:s3cret@db:5432/kura'), 'postgres://kura:***@db:5432/kura')
})

test('walk: folders recursively in sorted order, hidden files and DICOMDIR skipped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-walk-'))
  try {
    mkdirSync(join(dir, 'b', 'c'), { recursive: true })
    writeFileSync(join(dir, 'b', 'c', '2.dcm'), 'xx')
    writeFileSync(join(dir, 'b', '1.dcm'), 'x')
    writeFileSync(join(dir, 'a.dcm'), 'xxx')
    writeFileSync(join(dir, '.DS_Store'), '')
    writeFileSync(join(dir, 'DICOMDIR'), '')
    const r = await walk([dir])
    assert.deepEqual(r.files.map((f) => f.path.slice(dir.length + 1)), ['a.dcm', 'b/1.dcm', 'b/c/2.dcm'])
    assert.deepEqual(r.files.map((f) => f.size), [3, 1, 2])
    assert.equal(r.skipped.length, 2)
    await assert.rejects(walk([join(dir, 'missing')]), UsageError)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('progress: plain lines when stderr is not a terminal', () => {
  const lines: string[] = []
  const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream
  const p = new Progress({ label: 'import', totalFiles: 10, totalBytes: 10 * 1024 * 1024, stream, intervalMs: 0 })
  p.update(5, 5 * 1024 * 1024)
  p.done()
  assert.equal(lines.length, 1)
  assert.match(lines[0], /^import: 5\/10 files {2}5\.0 MB\/10\.0 MB {2}[\d.]+ files\/s/)
  assert.ok(lines[0].endsWith('\n') && !lines[0].includes('\r'))
})
