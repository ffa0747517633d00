/**
 * Series metadata is cached per process but never stale: every store or delete in the study
 * changes its version token, so the next request rebuilds the answer.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { synthStudies } from '@kura/dicom/synth'
import { startTestHub, stowBody, type TestHub } from './support/hub.ts'

/** Every request below is the test administrator's unless a test says otherwise. */
let fetch: typeof globalThis.fetch = globalThis.fetch

describe('metadata cache', () => {
  let hub: TestHub
  before(async () => {
    hub = await startTestHub()
    fetch = hub.fetch
  })
  after(async () => hub?.close())

  it('reflects stores and deletes at once', async () => {
    const [a, b] = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 2, seed: 5, modality: 'MR' })]
    const url = `${hub.dicomweb}/studies/${a!.studyInstanceUid}/series/${a!.seriesInstanceUid}/metadata`
    const sops = async () => ((await (await fetch(url)).json()) as any[]).map((m) => m['00080018'].Value[0]).sort()
    const stow = async (bytes: Uint8Array) => {
      const { body, contentType } = stowBody([bytes])
      assert.equal((await fetch(`${hub.dicomweb}/studies`, { method: 'POST', headers: { 'content-type': contentType }, body })).status, 200)
    }
    await stow(a!.bytes)
    assert.deepEqual(await sops(), [a!.sopInstanceUid])
    assert.deepEqual(await sops(), [a!.sopInstanceUid]) // served from the cache
    await stow(b!.bytes)
    assert.deepEqual(await sops(), [a!.sopInstanceUid, b!.sopInstanceUid].sort())
    const del = await fetch(`${hub.dicomweb}/studies/${b!.studyInstanceUid}/series/${b!.seriesInstanceUid}/instances/${b!.sopInstanceUid}`, { method: 'DELETE' })
    assert.equal(del.status, 204)
    assert.deepEqual(await sops(), [a!.sopInstanceUid])
    assert.equal((await fetch(`${hub.dicomweb}/studies/${a!.studyInstanceUid}`, { method: 'DELETE' })).status, 204)
    assert.equal((await fetch(url)).status, 404)
  })
})
