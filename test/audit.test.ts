/**
 * The audit log end to end: reads and refusals are recorded with who, what and where; the chain
 * survives concurrent requests; `kura audit verify` finds an edit, a deletion and (with a head
 * from `kura audit export`) a truncation.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { sql } from 'kysely'
import { startTestHub, stowBody, PYDICOM_FILES, type TestHub } from './support/hub.ts'

const KURA = join(import.meta.dirname, '..', 'packages', 'cli', 'bin', 'kura.js')
const run = promisify(execFile)

describe('audit log', () => {
  let hub: TestHub

  /** `kura audit …` against this hub's catalog; resolves to its exit code and output. */
  async function kuraAudit(...args: string[]): Promise<{ code: number; out: string }> {
    try {
      const r = await run(process.execPath, [KURA, 'audit', ...args, '--data', hub.env.config.dataDir], { env: { ...process.env, KURA_DATABASE_URL: hub.env.config.databaseUrl } })
      return { code: 0, out: r.stdout }
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string }
      return { code: err.code ?? -1, out: `${err.stdout}${err.stderr}` }
    }
  }

  before(async () => {
    hub = await startTestHub()
  })
  after(async () => hub?.close())

  it('records reads with actor, collection and outcome, and refusals as denied', async () => {
    const { body, contentType } = stowBody([await readFile(join(PYDICOM_FILES, 'CT_small.dcm'))])
    const stored = await hub.fetch(`${hub.dicomweb}/studies?collection=audited`, { method: 'POST', headers: { 'content-type': contentType }, body })
    assert.equal(stored.status, 200)
    const url = ((await stored.json()) as any)['00081199'].Value[0]['00081190'].Value[0] as string
    const study = new URL(url).pathname.split('/')[3]!
    assert.equal((await hub.fetch(`${hub.dicomweb}/studies/${study}/metadata`)).status, 200)
    assert.equal((await fetch(`${hub.dicomweb}/studies/${study}/metadata`)).status, 401)

    const { events } = (await (await hub.fetch(`${hub.url}/api/audit?limit=10`)).json()) as any
    const read = events.find((e: any) => e.action === 'GET /dicomweb/studies/:study/metadata' && e.outcome === 'success')
    assert.ok(read, JSON.stringify(events, null, 1))
    assert.equal(read.actor, 'admin')
    assert.equal(read.actorKind, 'token')
    assert.equal(read.collection, 'audited')
    assert.equal(read.resource, `/dicomweb/studies/${study}/metadata`)
    assert.ok(read.detail.token, 'names the token used')
    const store = events.find((e: any) => e.action === 'POST /dicomweb/studies')
    assert.equal(store.collection, 'audited')
    const refused = events.find((e: any) => e.actorKind === 'anonymous')
    assert.equal(refused.outcome, 'denied')
    assert.equal(refused.status, 401)
  })

  it('keeps the chain whole under concurrent requests', async () => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => hub.fetch(`${hub.dicomweb}/studies?limit=${i + 1}`)))
    const r = (await (await hub.fetch(`${hub.url}/api/audit/verify`)).json()) as any
    assert.equal(r.ok, true, r.reason)
    assert.ok(r.events >= 200)
    const verified = await kuraAudit('verify')
    assert.equal(verified.code, 0, verified.out)
    assert.match(verified.out, /audit chain intact: \d+ events/)
  })

  it('detects an edited event, a deleted event and deleted newest events', async () => {
    const db = hub.archive.catalog.db
    await hub.app.auditLog.flush()
    const exported = await kuraAudit('export')
    assert.equal(exported.code, 0)
    const lines = exported.out.trim().split('\n')
    const head = JSON.parse(lines.at(-1)!).head as { seq: number; hash: string }
    assert.equal(lines.length - 1, head.seq)

    // Edit: who read becomes someone else.
    const victim = Math.floor(head.seq / 2)
    const before = await db.selectFrom('audit_event').select('actor').where('seq', '=', victim).executeTakeFirstOrThrow()
    await db.updateTable('audit_event').set({ actor: 'someone-else' }).where('seq', '=', victim).execute()
    let v = await kuraAudit('verify')
    assert.equal(v.code, 1)
    assert.match(v.out, new RegExp(`BROKEN at event ${victim}: .*edited`))
    await db.updateTable('audit_event').set({ actor: before.actor }).where('seq', '=', victim).execute()
    assert.equal((await kuraAudit('verify')).code, 0)

    // Deletion in the middle.
    const row = await db.selectFrom('audit_event').selectAll().where('seq', '=', victim).executeTakeFirstOrThrow()
    await db.deleteFrom('audit_event').where('seq', '=', victim).execute()
    v = await kuraAudit('verify')
    assert.equal(v.code, 1)
    assert.match(v.out, new RegExp(`BROKEN at event ${victim + 1}: event ${victim} is missing`))
    await db.insertInto('audit_event').values(row).execute()

    // Truncation of the newest events: invisible to the chain alone, found against the exported head.
    await db.deleteFrom('audit_event').where('seq', '>', head.seq - 3).execute()
    assert.equal((await kuraAudit('verify')).code, 0)
    v = await kuraAudit('verify', '--head', `${head.seq}:${head.hash}`)
    assert.equal(v.code, 1)
    assert.match(v.out, /newest events were deleted/)
    // An engine-agnostic check that the table is what we think.
    const n = await sql<{ n: number }>`select count(*) as n from audit_event`.execute(db)
    assert.equal(Number(n.rows[0]!.n), head.seq - 3)
  })

  it('creates an admin token from the command line and prints it on the last line', async () => {
    const r = await run(process.execPath, [KURA, 'token', 'create', '--admin', '--name', 'script', '--data', hub.env.config.dataDir], { env: { ...process.env, KURA_DATABASE_URL: hub.env.config.databaseUrl } })
    const token = r.stdout.trim().split('\n').at(-1)!
    assert.match(token, /^kura_[A-Za-z0-9_-]{43}$/)
    const me = (await (await fetch(`${hub.url}/api/session`, { headers: { authorization: `Bearer ${token}` } })).json()) as any
    assert.equal(me.user.username, 'admin')
    assert.ok(me.permissions.includes('admin'))
  })
})
