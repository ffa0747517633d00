/**
 * Several hub processes serve one catalog and one object store at once: a study stored through
 * one process is found, retrieved and deleted through the other. On KURA_TEST_BACKEND=postgres
 * that is PostgreSQL + S3; on the embedded default, one SQLite file (WAL) and one directory.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { testHubConfig, type TestBackendConfig } from './support/backend.ts'
import { adminTokenFor, bearerFetch, stowBody, PYDICOM_FILES } from './support/hub.ts'
import { splitMultipart } from './support/multipart.ts'
import { startHubProcess as startProcess } from './support/process.ts'

let fetch: typeof globalThis.fetch = globalThis.fetch

describe('two hub processes on one catalog and object store', () => {
  let env: TestBackendConfig
  let a: { url: string; child: ChildProcess }
  let b: { url: string; child: ChildProcess }
  before(async () => {
    env = await testHubConfig()
    ;[a, b] = await Promise.all([startProcess(env), startProcess(env)])
    fetch = bearerFetch(await adminTokenFor(env))
  })
  after(async () => {
    for (const p of [a, b]) {
      if (!p) continue
      p.child.kill('SIGTERM')
      await new Promise((r) => p.child.once('exit', r))
    }
    await env?.cleanup()
  })

  it('stores through one, finds, retrieves and deletes through the other', { timeout: 60_000 }, async () => {
    const file = await readFile(join(PYDICOM_FILES, 'CT_small.dcm'))
    const { body, contentType } = stowBody([file])
    const stored = await fetch(`${a.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body })
    assert.equal(stored.status, 200)
    const ref = ((await stored.json()) as any)['00081199'].Value[0]
    const instanceUrl: string = ref['00081190'].Value[0]
    const path = new URL(instanceUrl).pathname
    const study = path.split('/')[3]!

    const found = (await (await fetch(`${b.url}/dicomweb/studies?StudyInstanceUID=${study}`)).json()) as any[]
    assert.equal(found.length, 1)
    const got = await fetch(`${b.url}${path}`, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } })
    assert.equal(got.status, 200)
    const [part] = splitMultipart(Buffer.from(await got.arrayBuffer()), got.headers.get('content-type')!)
    const sha = (x: Uint8Array) => createHash('sha256').update(x).digest('hex')
    assert.equal(sha(part!.body), sha(file))

    assert.equal((await fetch(`${b.url}/dicomweb/studies/${study}`, { method: 'DELETE' })).status, 204)
    const gone = (await (await fetch(`${a.url}/dicomweb/studies?StudyInstanceUID=${study}`)).json()) as any[]
    assert.equal(gone.length, 0)
    assert.equal((await fetch(`${a.url}${path}`)).status, 404)
  })

  it('stores concurrently through both into one new study without duplicating it', { timeout: 60_000 }, async () => {
    const files = ['MR_small_implicit.dcm', 'ExplVR_BigEnd.dcm', 'rtdose_rle.dcm', 'test-SR.dcm']
    const bodies = await Promise.all(files.map((f) => readFile(join(PYDICOM_FILES, f))))
    const results = await Promise.all(
      bodies.flatMap((f) => [a, b].map(async (hub) => {
        const { body, contentType } = stowBody([f])
        return (await fetch(`${hub.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType }, body })).status
      })),
    )
    assert.deepEqual(results, results.map(() => 200))
    const inst = (await (await fetch(`${a.url}/dicomweb/instances?limit=100`)).json()) as any[]
    assert.equal(inst.length, files.length)
  })
})
