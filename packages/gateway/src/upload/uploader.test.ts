import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Outbox } from '../outbox/index.ts'
import { Bandwidth } from './bandwidth.ts'
import { Uploader } from './uploader.ts'

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * `server` listening as the hub, and a spool (in a fresh folder with a token file) holding one queued object:
 * id 'a', content 'abc' as clean/aa.dcm, series 1.2.1.
 */
async function oneQueued(server: Server): Promise<{ hub: string; dir: string; ob: Outbox }> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const hub = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const dir = mkdtempSync(join(tmpdir(), 'kura-upl-'))
  writeFileSync(join(dir, 'token'), 'kura_x')
  const ob = Outbox.open(join(dir, 'spool'))
  ob.add({ id: 'a', source: 'dimse', bytes: 3 })
  writeFileSync(ob.cleanPath('aa'), 'abc')
  ob.markDeidentified('a', { sha256: 'aa', bytes: 3, studyUid: '1.2', seriesUid: '1.2.1', sopUid: '1.2.1.1' })
  ob.enqueue('a')
  return { hub, dir, ob }
}

test('a hub that answers 500, garbage, then 507: clear errors, back-off, nothing lost, nothing confirmed', async () => {
  // Each request gets the next scripted answer; the script is what a broken or full hub does.
  const script: Array<(req: IncomingMessage, res: ServerResponse) => void> = [
    (_q, r) => r.writeHead(500).end('boom'),
    (_q, r) => r.writeHead(201).end(), // no Location
    (_q, r) => r.writeHead(201, { location: '/uploads/u1' }).end(),
    (_q, r) => r.writeHead(204, { 'upload-offset': 'garbage' }).end(),
    (_q, r) => r.writeHead(507).end('full'),
  ]
  const seen: string[] = []
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`)
      const next = script.shift()
      if (next) next(req, res)
      else res.writeHead(503).end()
    })
  })
  const { hub, dir, ob } = await oneQueued(server)
  const up = new Uploader(ob, { hub, tokenFile: join(dir, 'token'), collection: 'c', concurrency: 1, bandwidth: new Bandwidth(0), bundleBytes: 1e6, largeObjectBytes: 1e6, chunkBytes: 65536, resumeMinBytes: 0, backoffMs: 20, maxBackoffMs: 50, hubFullPauseMs: 60_000, pollMs: 20 })
  try {
    up.start()
    await until('the 507', () => up.state.hubFullUntil !== null)
    await up.stop()
    const row = ob.get('a')!
    assert.equal(row.state, 'retry')
    assert.equal(row.attempts, 4)
    assert.match(row.last_error!, /no space left \(507\)/)
    assert.ok(row.next_attempt_at > Date.now() + 50_000, 'a full hub is not retried at once')
    assert.ok(existsSync(ob.cleanPath('aa')), 'the object stays in the spool')
    const events = ob.lastEvents(10).map((e) => e.message).reverse()
    assert.match(events[0]!, /Creating an upload answered 500: boom/)
    assert.match(events[1]!, /without a Location header/)
    assert.match(events[2]!, /PATCH answered without Upload-Offset|moved the offset/)
    assert.deepEqual(seen, ['POST /uploads', 'POST /uploads', 'POST /uploads', 'PATCH /uploads/u1', 'HEAD /uploads/u1'], 'the next try resumes the upload it already created')
  } finally {
    await up.stop()
    ob.close()
    server.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the bandwidth cap holds the average rate, and a window can lift it', async () => {
  const capped = new Bandwidth(200_000)
  const t0 = Date.now()
  for (let i = 0; i < 10; i++) await capped.take(64 * 1024)
  const secs = (Date.now() - t0) / 1000
  // 655 KB at 200 KB/s with up to one second of burst: at least 2.2 s.
  assert.ok(secs >= 2.2 && secs < 5, `took ${secs} s`)
  const allDay = [{ from: 0, to: 24 * 60 - 1, bytesPerSec: 0, text: 'full' }, { from: 24 * 60 - 1, to: 0, bytesPerSec: 0, text: 'full' }]
  const lifted = new Bandwidth(1000, allDay)
  const t1 = Date.now()
  for (let i = 0; i < 10; i++) await lifted.take(64 * 1024)
  assert.ok(Date.now() - t1 < 200, 'inside a "full" window there is no cap')
  assert.equal(lifted.rate(), 0)
})

test('stopping mid-upload aborts it, puts the object back in the queue uncounted, and remembers where to resume', async () => {
  const server = createServer((req, res) => {
    if (req.method === 'POST') { req.resume(); res.writeHead(201, { location: '/uploads/slow' }).end(); return }
    // PATCH: read the body and never answer, like a hub behind a stalled link.
    req.resume()
  })
  const { hub, dir, ob } = await oneQueued(server)
  const up = new Uploader(ob, { hub, tokenFile: join(dir, 'token'), collection: 'c', concurrency: 1, bandwidth: new Bandwidth(0), bundleBytes: 1e6, largeObjectBytes: 1e6, chunkBytes: 65536, resumeMinBytes: 0, pollMs: 20 })
  try {
    up.start()
    await until('the upload to be in flight', () => up.state.uploadsInFlight === 1 && ob.uploadUrl('aa') !== null)
    await new Promise((r) => setTimeout(r, 100))
    const t0 = Date.now()
    await up.stop()
    assert.ok(Date.now() - t0 < 2000, 'stop does not wait for the stalled upload')
    const row = ob.get('a')!
    assert.equal(row.state, 'queued')
    assert.equal(row.attempts, 0)
    assert.equal(ob.uploadUrl('aa'), `${hub}/uploads/slow`)
  } finally {
    ob.close()
    server.closeAllConnections()
    server.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a payload under resumeMinBytes (default 8 MiB) is sent without recording its upload URL: no outbox commits for it', async () => {
  const server = createServer((req, res) => {
    if (req.method === 'POST') { req.resume(); res.writeHead(201, { location: '/uploads/slow' }).end(); return }
    req.resume()
  })
  const { hub, dir, ob } = await oneQueued(server)
  const up = new Uploader(ob, { hub, tokenFile: join(dir, 'token'), collection: 'c', concurrency: 1, bandwidth: new Bandwidth(0), bundleBytes: 1e6, largeObjectBytes: 1e6, chunkBytes: 65536, pollMs: 20 })
  try {
    up.start()
    await until('the upload to be in flight', () => up.state.uploadsInFlight === 1)
    await new Promise((r) => setTimeout(r, 100))
    await up.stop()
    assert.equal(ob.get('a')!.state, 'queued')
    assert.equal(ob.uploadUrl('aa'), null, 'a 3-byte payload is sent whole again rather than resumed')
  } finally {
    ob.close()
    server.closeAllConnections()
    server.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('clinical records travel in batches to POST /api/records and are settled per record from the answer', async () => {
  const { RecordOutbox } = await import('../outbox/index.ts')
  const bodies: string[] = []
  let calls = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      calls++
      if (calls === 1) { res.writeHead(500).end('boom'); return } // the whole batch again, later
      const body = Buffer.concat(chunks).toString('utf8')
      bodies.push(`${req.method} ${req.url} ${req.headers['content-type']}`)
      const keys = body.trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key)
      // k1 stored, k2 rejected, k3 not answered (retried), and the retry of k3 a duplicate.
      const results = keys.filter((k) => k !== 'k3' || calls > 2).map((key) => (key === 'k2' ? { key, status: 'rejected', reason: 'record.subject.name: identity' } : { key, status: key === 'k3' ? 'duplicate' : 'stored' }))
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results }))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const hub = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const dir = mkdtempSync(join(tmpdir(), 'kura-upl-rec-'))
  writeFileSync(join(dir, 'token'), 'kura_x')
  const ob = Outbox.open(join(dir, 'spool'))
  const rec = new RecordOutbox(ob)
  rec.addInputs([{ source: 's', ref: 'r', format: 'ssmix2', raw: 'x' }])
  rec.settle([{ input: rec.pendingInputs(1)[0]!, outputs: ['k1', 'k2', 'k3'].map((key) => ({ kind: 'clean' as const, key, body: `{"id":"${key}"}`, recordKind: 'patient', studyUid: null })) }])
  const up = new Uploader(ob, { hub, tokenFile: join(dir, 'token'), collection: 'c 1', concurrency: 1, bandwidth: new Bandwidth(0), bundleBytes: 1e6, largeObjectBytes: 1e6, chunkBytes: 65536, resumeMinBytes: 0, backoffMs: 20, maxBackoffMs: 50, pollMs: 20 })
  const state = (key: string) => (ob.db.prepare('SELECT o.state FROM objects o JOIN records r ON r.id = o.id WHERE r.key = ?').pluck().get(key) as string)
  try {
    up.start()
    await until('every record settled', () => ['k1', 'k2', 'k3'].every((k) => ['confirmed', 'failed'].includes(state(k))))
    assert.equal(state('k1'), 'confirmed')
    assert.equal(state('k2'), 'failed', 'a rejected record is held here, not retried')
    assert.match(rec.held().find((h) => h.state === 'failed')!.reasons[0]!.message, /rejected.*subject\.name/)
    assert.equal(state('k3'), 'confirmed', 'an unanswered record is sent again')
    assert.equal(up.state.recordsConfirmed, 2)
    assert.equal(bodies[0], 'POST /api/records?collection=c%201 application/x-ndjson')
    assert.ok(calls >= 3, 'the failed batch was retried')
  } finally {
    await up.stop()
    ob.close()
    server.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('flush sends a freshly queued object at once instead of lingering for the rest of its series', async () => {
  const seen: string[] = []
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => { seen.push(`${req.method} ${req.url}`); res.writeHead(503).end() })
  })
  const { hub, dir, ob } = await oneQueued(server)
  const up = new Uploader(ob, { hub, tokenFile: join(dir, 'token'), collection: 'c', concurrency: 1, bandwidth: new Bandwidth(0), bundleBytes: 1e6, largeObjectBytes: 1e6, chunkBytes: 65536, resumeMinBytes: 0, backoffMs: 60_000, pollMs: 20, lingerMs: 60_000 })
  try {
    up.start()
    await new Promise((r) => setTimeout(r, 300))
    assert.deepEqual(seen, [], 'lingering: the rest of the series may still come')
    up.flush()
    await until('the upload', () => seen.length > 0, 5_000)
    assert.equal(seen[0], 'POST /uploads')
  } finally {
    await up.stop()
    ob.close()
    server.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
