import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadHubConfig } from '@kura/core'
import { startHub } from '@kura/hub'

const BIN = fileURLToPath(new URL('../../bin/kura.js', import.meta.url))

/** Runs the CLI as a child (async, so an in-process hub keeps serving meanwhile). */
function kura(args: string[], env: Record<string, string | undefined> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, KURA_DATABASE_URL: undefined, KURA_S3_BUCKET: undefined, KURA_S3_ENDPOINT: undefined, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

const tmp = () => mkdtempSync(join(tmpdir(), 'kura-cli-'))

test('synth → import (direct) → import again: stored, then duplicates; junk is rejected with its path', async () => {
  const root = tmp()
  try {
    const corpus = join(root, 'corpus')
    const s = await kura(['synth', 'dicom', '--out', corpus, '--studies', '3', '--series', '1', '--instances', '2', '--rows', '32', '--cols', '32'])
    assert.equal(s.status, 0, s.stderr)
    assert.match(s.stdout, /^Wrote 6 files \(.+, 3 studies\) to /)
    assert.deepEqual(readdirSync(corpus).sort(), ['0001', '0002', '0003'])

    const data = join(root, 'data')
    const a = await kura(['import', corpus, '--collection', 'test-a', '--data', data])
    assert.equal(a.status, 0, a.stdout + a.stderr)
    assert.match(a.stdout, /stored +6/)
    assert.match(a.stdout, /rejected +0/)

    writeFileSync(join(corpus, 'notes.txt'), 'not a DICOM file at all')
    const b = await kura(['import', corpus, '--collection', 'test-a', '--data', data])
    assert.equal(b.status, 1, b.stdout + b.stderr)
    assert.match(b.stdout, /stored +0/)
    assert.match(b.stdout, /duplicates +6/)
    assert.match(b.stdout, /rejected +1/)
    assert.match(b.stdout, /notes\.txt\n +rejected: /)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('demo twice: the second run adds nothing new', async () => {
  const root = tmp()
  try {
    const first = await kura(['demo', '--data', root])
    assert.equal(first.status, 0, first.stdout + first.stderr)
    assert.match(first.stdout, /stored +72/)
    assert.match(first.stdout, /jmid-demo/)
    assert.match(first.stdout, /jed-demo/)
    assert.match(first.stdout, /\/dicomweb\/studies/)
    const second = await kura(['demo', '--data', root])
    assert.equal(second.status, 0, second.stdout + second.stderr)
    assert.match(second.stdout, /stored +0/)
    assert.match(second.stdout, /duplicates +72/)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('import --url sends over STOW-RS to a running hub', async () => {
  const root = tmp()
  const hub = await startHub(loadHubConfig({ data: join(root, 'data'), port: 0 }, {}))
  try {
    const corpus = join(root, 'corpus')
    const s = await kura(['synth', 'dicom', '--out', corpus, '--studies', '2', '--series', '1', '--instances', '3', '--rows', '32', '--cols', '32', '--modality', 'ES', '--es-pixels', 'jpeg'])
    assert.equal(s.status, 0, s.stderr)
    writeFileSync(join(corpus, 'junk.dcm'), 'junk')
    const refused = await kura(['import', corpus, '--collection', 'jed-test', '--url', hub.url])
    assert.equal(refused.status, 1, 'without a token the hub refuses')
    assert.match(refused.stdout + refused.stderr, /401|UNAUTHENTICATED|token/i)
    const made = await kura(['token', 'create', '--admin', '--data', join(root, 'data')])
    assert.equal(made.status, 0, made.stderr)
    const token = made.stdout.trim().split('\n').at(-1)!
    const r = await kura(['import', corpus, '--collection', 'jed-test', '--url', hub.url, '--batch', '4'], { KURA_TOKEN: token })
    assert.equal(r.status, 1, r.stdout + r.stderr)
    assert.match(r.stdout, /stored or already there +6/)
    assert.match(r.stdout, /rejected +1/)
    assert.match(r.stdout, /junk\.dcm/)
    const qido = await fetch(`${hub.url}/dicomweb/studies?collection=jed-test`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(((await qido.json()) as unknown[]).length, 2)

    const demo = await kura(['demo', '--url', hub.url], { KURA_TOKEN: token })
    assert.equal(demo.status, 0, demo.stdout + demo.stderr)
    const again = await kura(['demo', '--url', hub.url], { KURA_TOKEN: token })
    assert.match(again.stdout, /duplicates +72/)
  } finally {
    await hub.close()
    rmSync(root, { recursive: true, force: true })
  }
})

for (const workers of ['1', '2']) test(`hub --workers ${workers}: prints its URL, serves, and closes on SIGTERM`, async () => {
  const root = tmp()
  const child = spawn(process.execPath, [BIN, 'hub', '--port', '0', '--data', root, '--workers', workers], { env: { ...process.env, KURA_DATABASE_URL: undefined, KURA_S3_BUCKET: undefined, KURA_S3_ENDPOINT: undefined } })
  try {
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d
        const m = /Kura hub listening on (http:\/\/\S+)/.exec(stdout)
        if (m) resolve(m[1])
      })
      child.on('close', () => reject(new Error(`hub exited: ${stderr}`)))
    })
    for (let i = 0; i < 4; i++) {
      assert.equal((await fetch(`${url}/healthz`)).status, 200)
      // Data needs a principal, whichever worker answers.
      assert.equal((await fetch(`${url}/dicomweb/studies`)).status, 401)
    }
    // The first administrator is created once, its one-time password printed once.
    assert.equal(stdout.match(/one-time password/g)?.length, 1, stdout)
    const code = new Promise<number | null>((resolve) => child.on('close', resolve))
    child.kill('SIGTERM')
    assert.equal(await code, 0)
    assert.match(stderr, /closed/)
  } finally {
    child.kill('SIGKILL')
    rmSync(root, { recursive: true, force: true })
  }
})
