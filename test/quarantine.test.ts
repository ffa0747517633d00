/**
 * Defence in depth on the hub: a collection marked de-identified accepts only objects that say
 * they were de-identified and pass the receipt check; the rest are quarantined (kept with the
 * reasons, never indexed or served) and shown to curators only.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BufferSource } from '@kura/core'
import { readDicomBuffer } from '@kura/dicom'
import { BASIC_POLICY, deidentify } from '@kura/deid'
import { createToken } from '@kura/hub'
import { startTestHub, stowBody, PYDICOM_FILES, type TestHub } from './support/hub.ts'
import { python, requireTool } from './support/tools.ts'

async function deidentified(buf: Uint8Array): Promise<Uint8Array> {
  const { output } = await deidentify(readDicomBuffer(buf), new BufferSource(buf), { policy: BASIC_POLICY, secret: new Uint8Array(32).fill(9), collection: 'clean' })
  const parts: Uint8Array[] = []
  for await (const p of output) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}

describe('receipt check of a de-identified collection', () => {
  let hub: TestHub
  const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const stow = async (file: Uint8Array) => {
    const { body, contentType } = stowBody([file])
    const res = await hub.fetch(`${hub.dicomweb}/studies?collection=clean`, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/dicom+json' }, body })
    return { status: res.status, body: (await res.json()) as any }
  }
  const quarantined = async (token?: string) => {
    const res = await (token ? fetch(`${hub.url}/api/quarantine`, { headers: { authorization: `Bearer ${token}` } }) : hub.fetch(`${hub.url}/api/quarantine`))
    return { status: res.status, body: (await res.json()) as any }
  }

  before(async () => {
    hub = await startTestHub()
    const made = await hub.fetch(`${hub.url}/api/collections`, json({ name: 'clean', deidentified: true }))
    assert.equal(made.status, 201)
    assert.equal(((await made.json()) as any).deidentified, true)
  })
  after(async () => hub?.close())

  it('quarantines an object that was never de-identified, once, and indexes nothing', async () => {
    const raw = readFileSync(join(PYDICOM_FILES, 'CT_small.dcm'))
    const r = await stow(raw)
    assert.equal(r.status, 409)
    const failed = r.body['00081198'].Value[0]
    assert.match(failed['00000902'].Value[0], /HUB_QUARANTINED/)
    assert.equal(((await (await hub.fetch(`${hub.dicomweb}/studies?collection=clean`)).json()) as any[]).length, 0)
    await stow(raw)
    const q = await quarantined()
    assert.equal(q.body.length, 1, 'the same bytes again add no second entry')
    const kinds = q.body[0].findings.map((f: any) => f.kind)
    assert.ok(kinds.includes('identity-not-removed'), kinds.join())
    assert.ok(kinds.includes('method-missing'), kinds.join())
    assert.ok(!JSON.stringify(q.body).includes('CompressedSamples'), 'findings never carry values')
  })

  it('stores what the engine de-identified', async () => {
    const clean = await deidentified(readFileSync(join(PYDICOM_FILES, 'CT_small.dcm')))
    const r = await stow(clean)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(((await (await hub.fetch(`${hub.dicomweb}/studies?collection=clean`)).json()) as any[]).length, 1)
  })

  it('quarantines a de-identified object that still carries an attribute the profile always removes', async (t) => {
    if (!requireTool(t, 'pydicom', 'apt-get install python3-pydicom')) return
    const dir = mkdtempSync(join(tmpdir(), 'kura-q-'))
    try {
      writeFileSync(join(dir, 'in.dcm'), await deidentified(readFileSync(join(PYDICOM_FILES, 'MR_small.dcm'))))
      // pydicom, not our writer, adds the address back.
      python('import pydicom,sys; d=pydicom.dcmread(sys.argv[1]); d.PatientAddress="1-1 Chiyoda, Tokyo"; d.save_as(sys.argv[2])', [join(dir, 'in.dcm'), join(dir, 'out.dcm')])
      const r = await stow(readFileSync(join(dir, 'out.dcm')))
      assert.equal(r.status, 409)
      const q = await quarantined()
      const entry = q.body.find((e: any) => e.findings.some((f: any) => f.kind === 'must-be-removed'))
      assert.ok(entry, JSON.stringify(q.body))
      assert.match(JSON.stringify(entry.findings), /PatientAddress/)
      assert.ok(!JSON.stringify(entry).includes('Chiyoda'))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('shows the quarantine to curators of the collection only, who can discard entries', async () => {
    const users = async (name: string, role: string) => {
      const u = (await (await hub.fetch(`${hub.url}/api/users`, json({ username: name }))).json()) as any
      assert.equal((await hub.fetch(`${hub.url}/api/grants`, json({ userId: u.user.id, role, collection: 'clean' }))).status, 201)
      return (await createToken(hub.archive.catalog.db, { userId: u.user.id, name: 't', role, collection: 'clean' })).token
    }
    const curator = await users('q-curator', 'curator')
    const researcher = await users('q-researcher', 'researcher')
    assert.equal((await quarantined(researcher)).status, 403)
    const list = await quarantined(curator)
    assert.equal(list.status, 200)
    assert.ok(list.body.length >= 1)
    const del = await fetch(`${hub.url}/api/quarantine/${list.body[0].id}`, { method: 'DELETE', headers: { authorization: `Bearer ${curator}` } })
    assert.equal(del.status, 204)
    assert.equal((await quarantined(curator)).body.length, list.body.length - 1)
  })
})
