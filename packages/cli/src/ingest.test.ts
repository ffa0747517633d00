import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runIngest, stowSink, type Item, type Outcome, type Sink } from './ingest.ts'
import { formatSummary } from './summary.ts'

const item = (n: number, collection = 'c1', uid?: string): Item => ({ label: `f${n}.dcm`, collection, size: 100, bytes: new Uint8Array([n]), sopInstanceUid: uid })

test('runIngest: bounded concurrency, batches of one collection, counts and problems', async () => {
  let inFlight = 0
  let maxInFlight = 0
  const batches: string[][] = []
  const sink: Sink = {
    batchSize: 3,
    async send(batch) {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      batches.push(batch.map((b) => `${b.collection}:${b.label}`))
      await new Promise((r) => setTimeout(r, 5))
      inFlight--
      return batch.map((b, i): Outcome => (b.label === 'f4.dcm' ? { item: b, status: 'rejected', code: 'DICOM_NOT_DICOM', reason: 'not DICOM' } : { item: b, status: i % 2 ? 'duplicate' : 'stored', studyInstanceUid: '1.2' }))
    },
    async close() {},
  }
  const items = [1, 2, 3, 4, 5, 6, 7].map((n) => item(n, n <= 5 ? 'c1' : 'c2'))
  const s = await runIngest(items, sink, { concurrency: 2 })
  assert.ok(maxInFlight <= 2)
  assert.deepEqual(batches.map((b) => b.length), [3, 2, 2])
  assert.ok(batches.every((b) => new Set(b.map((x) => x.split(':')[0])).size === 1))
  assert.equal(s.files, 7)
  assert.equal(s.bytes, 700)
  assert.equal(s.counts.rejected, 1)
  assert.equal(s.counts.stored + s.counts.duplicate, 6)
  const text = formatSummary(s, 'Imported')
  assert.match(text, /rejected +1/)
  assert.match(text, /f4\.dcm\n {4}rejected: not DICOM \[DICOM_NOT_DICOM\]/)
})

test('runIngest lists the first 20 problems and counts the rest', async () => {
  const sink: Sink = { batchSize: 1, send: async (b) => b.map((x) => ({ item: x, status: 'conflict' as const, code: 'ARCHIVE_CONFLICT', reason: 'other bytes' })), close: async () => {} }
  const s = await runIngest(Array.from({ length: 25 }, (_, i) => item(i)), sink, { concurrency: 4 })
  const text = formatSummary(s, 'Imported')
  assert.equal((text.match(/conflict: other bytes/g) ?? []).length, 20)
  assert.match(text, /… and 5 more/)
})

test('runIngest stops at a fatal sink error (hub unreachable) and rethrows it', async () => {
  let sends = 0
  const sink: Sink = { batchSize: 1, send: async () => { sends++; throw new Error('ECONNREFUSED') }, close: async () => {} }
  await assert.rejects(runIngest(Array.from({ length: 50 }, (_, i) => item(i)), sink, { concurrency: 2 }), /ECONNREFUSED/)
  assert.ok(sends < 50)
})

type Call = { url: string; init?: RequestInit; body?: Buffer }

function fakeFetch(respond: (call: Call) => { status: number; json?: unknown }): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = []
  const f = (async (url: string, init?: RequestInit) => {
    const call: Call = { url, init }
    if (init?.body) {
      const chunks: Buffer[] = []
      for await (const c of init.body as unknown as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c))
      call.body = Buffer.concat(chunks)
    }
    calls.push(call)
    const r = respond(call)
    return new Response(r.json === undefined ? null : JSON.stringify(r.json), { status: r.status, headers: { 'content-type': 'application/dicom+json' } })
  }) as unknown as typeof fetch
  return { fetch: f, calls }
}

const ref = (uid: string) => ({ '00081155': { vr: 'UI', Value: [uid] }, '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] } })

test('stowSink: one multipart request per batch, results matched by SOP Instance UID', async () => {
  const { fetch, calls } = fakeFetch((c) => {
    if (c.url.includes('/dicomweb/instances?')) return { status: 200, json: [{ '00080018': { vr: 'UI', Value: ['1.1'] } }] }
    return {
      status: 202,
      json: {
        '00081199': { vr: 'SQ', Value: [ref('1.1'), ref('1.3')] },
        '00081198': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: ['1.2'] }, '00081197': { vr: 'US', Value: [0x0111] }, '00000902': { vr: 'LO', Value: ['ARCHIVE_CONFLICT'] } }] },
      },
    }
  })
  const sink = stowSink('http://hub:8080', { fetchImpl: fetch, batchSize: 20, token: 't0k' })
  const out = await sink.send([item(1, 'jmid-demo', '1.1'), item(2, 'jmid-demo', '1.2'), item(3, 'jmid-demo', '1.3')])
  assert.deepEqual(out.map((o) => o.status), ['duplicate', 'conflict', 'accepted'])
  assert.match(out[1].reason!, /duplicate SOP Instance UID with different content/)
  const post = calls.find((c) => c.init?.method === 'POST')!
  assert.equal(post.url, 'http://hub:8080/dicomweb/studies?collection=jmid-demo')
  const headers = post.init!.headers as Record<string, string>
  assert.equal(headers.authorization, 'Bearer t0k')
  const boundary = /boundary=(\S+)/.exec(headers['content-type'])![1]
  assert.match(headers['content-type'], /^multipart\/related; type="application\/dicom"; boundary=/)
  const body = post.body!.toString('latin1')
  assert.equal(body.split(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`).length, 4)
  assert.ok(body.endsWith(`--${boundary}--\r\n`))
})

test('stowSink: files without a known UID; failures without a UID are matched in order', async () => {
  const { fetch } = fakeFetch(() => ({
    status: 202,
    json: {
      '00081199': { vr: 'SQ', Value: [ref('9.1')] },
      '00081198': { vr: 'SQ', Value: [{ '00081197': { vr: 'US', Value: [0xc000] }, '00000902': { vr: 'LO', Value: ['DICOM_NOT_DICOM'] } }] },
    },
  }))
  const uids: Record<string, string | undefined> = { 'f1.dcm': '9.1', 'f2.dcm': undefined }
  const sink = stowSink('http://hub', { fetchImpl: fetch, sopInstanceUidOf: async (i) => uids[i.label] })
  const out = await sink.send([item(1), item(2)])
  assert.deepEqual(out.map((o) => [o.status, o.code]), [['accepted', undefined], ['rejected', 'DICOM_NOT_DICOM']])
})

test('stowSink: a refused request marks the batch rejected with the hub\'s message; no hub is fatal', async () => {
  const { fetch } = fakeFetch(() => ({ status: 400, json: { code: 'ARCHIVE_BAD_COLLECTION', message: 'Collection name "x y" is not valid' } }))
  const out = await stowSink('http://hub', { fetchImpl: fetch }).send([item(1, 'x y'), item(2, 'x y')])
  assert.deepEqual(out.map((o) => o.code), ['ARCHIVE_BAD_COLLECTION', 'ARCHIVE_BAD_COLLECTION'])
  const down = stowSink('http://127.0.0.1:9', {})
  await assert.rejects(down.send([item(1)]), /Could not send to the hub at http:\/\/127\.0\.0\.1:9/)
})
