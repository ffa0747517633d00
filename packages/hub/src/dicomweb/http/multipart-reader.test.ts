/** @module Tests of the streaming multipart/related reader: splits at every position, limits, truncation, disconnects, backpressure. */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { Readable, PassThrough } from 'node:stream'
import { createHash, randomBytes } from 'node:crypto'
import { createServer, request, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { once } from 'node:events'
import fc from 'fast-check'
import { parseContentType, parseMediaType, parseHeaderBlock, readParts, type Part } from './multipart-reader.ts'
import { multipartRelated } from './multipart-writer.ts'

/** A source that yields exactly these chunks (object mode keeps the chunk boundaries as given). */
function source(chunks: Buffer[]): Readable {
  return Readable.from(chunks)
}

function split(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size))
  return out
}

function randomSplit(buf: Buffer, seed: number, max = 50): Buffer[] {
  // Small deterministic PRNG so a failure can be reproduced from the seed.
  let s = seed >>> 0 || 1
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) % max) + 1
  const out: Buffer[] = []
  for (let i = 0; i < buf.length; ) {
    const n = rnd()
    out.push(buf.subarray(i, i + n))
    i += n
  }
  return out
}

async function readAll(r: Readable): Promise<Buffer> {
  const bufs: Buffer[] = []
  for await (const c of r) bufs.push(c)
  return Buffer.concat(bufs)
}

async function collect(body: Readable, boundary: string): Promise<Array<{ headers: Record<string, string>; body: Buffer }>> {
  const out = []
  for await (const p of readParts(body, boundary)) out.push({ headers: p.headers, body: await readAll(p.body) })
  return out
}

/** Builds a multipart body by hand (independent of the writer under test). */
function build(boundary: string, parts: Array<{ headers?: string; body: Buffer }>, opts: { preamble?: string; epilogue?: string; padding?: string } = {}): Buffer {
  const pieces: Buffer[] = []
  if (opts.preamble !== undefined) pieces.push(Buffer.from(`${opts.preamble}\r\n`))
  parts.forEach((p, i) => {
    pieces.push(Buffer.from(`${i ? '\r\n' : ''}--${boundary}${opts.padding ?? ''}\r\n${p.headers ?? ''}\r\n`))
    pieces.push(p.body)
  })
  pieces.push(Buffer.from(`\r\n--${boundary}--`))
  if (opts.epilogue !== undefined) pieces.push(Buffer.from(opts.epilogue))
  return Buffer.concat(pieces)
}

const B = 'b0und4ry'
/** Content full of near-misses: CRs, partial delimiters, the boundary without CRLF, CR at the very ends. */
const TRICKY = [
  Buffer.from(`\r`),
  Buffer.from(`\r\n-\r\n--\r\n--b0und\r\r\n--b0und4r-\n--${B}x`.slice(0, 30)),
  Buffer.from(`--${B}\r\n not a delimiter without a leading CRLF \r\n\r\n--B0UND4RY\r`),
  Buffer.alloc(0),
  Buffer.from(`\r\n\r\n\r\r\r\n-`),
]

describe('parseContentType', () => {
  test('reads type, quoted boundary, type parameter, case-insensitive names', () => {
    const ct = parseContentType('Multipart/Related; TYPE="application/DICOM"; Boundary="a:b c/d"; start="<x@y>"')
    assert.equal(ct.type, 'multipart/related')
    assert.equal(ct.boundary, 'a:b c/d')
    assert.equal(ct.relatedType, 'application/dicom')
    assert.equal(ct.params.start, '<x@y>')
    assert.equal(ct.params.boundary, 'a:b c/d')
  })
  test('token boundary, whitespace and escapes', () => {
    assert.equal(parseContentType('multipart/related;boundary=abc123 ;type=application/dicom').boundary, 'abc123')
    assert.equal(parseContentType('multipart/related; boundary="q\\"x"').boundary, 'q"x')
    assert.equal(parseContentType('multipart/related; type="a/b;c=d"; boundary=z').relatedType, 'a/b;c=d')
    assert.equal(parseContentType('multipart/related; boundary=z').relatedType, undefined)
  })
  test('boundary is case-sensitive, the first of repeated parameters wins', () => {
    assert.equal(parseContentType('multipart/related; boundary=AbC; boundary=x').boundary, 'AbC')
  })
  test('rejects missing boundary, non-multipart, missing or garbage header', () => {
    for (const h of [undefined, '', 'multipart/related', 'multipart/related; boundary=', 'multipart/related; boundary=""', 'application/dicom; boundary=x', 'nonsense', 'multipart/related; boundary="unterminated']) {
      assert.throws(() => parseContentType(h), (e: any) => e.code === 'DICOMWEB_BAD_CONTENT_TYPE' && e.status === 415, String(h))
    }
  })
  test('parseMediaType ignores parameters without a value', () => {
    assert.deepEqual(parseMediaType('a/b; ; x; y=1'), { type: 'a/b', params: { y: '1' } })
    assert.equal(parseMediaType('a'), null)
    assert.equal(parseMediaType('a/'), null)
  })
})

describe('parseHeaderBlock', () => {
  test('lowercases names, unfolds, joins repeats, keeps __proto__ as data', () => {
    const h = parseHeaderBlock('Content-Type: application/dicom\r\nX-A: 1\r\n  continued\r\nx-a: 2\r\n__proto__: p\r\nContent-Location:  /x ')
    assert.deepEqual(Object.entries(h), [['content-type', 'application/dicom'], ['x-a', '1 continued, 2'], ['__proto__', 'p'], ['content-location', '/x']])
    assert.equal(Object.getPrototypeOf(h), Object.prototype)
    assert.equal(h['__proto__'], 'p')
  })
  test('a line without a name is malformed', () => {
    assert.throws(() => parseHeaderBlock(': x'), (e: any) => e.code === 'DICOMWEB_MULTIPART_MALFORMED')
  })
})

describe('readParts: framing', () => {
  const parts = [
    { headers: 'Content-Type: application/dicom\r\nContent-Location: a\r\n', body: Buffer.concat(TRICKY) },
    { headers: '', body: Buffer.from('no headers') }, // a part with no header fields
    { headers: 'Content-Type: text/plain\r\n', body: Buffer.alloc(0) }, // empty body
    { headers: 'X: y\r\n', body: TRICKY[1]! },
    { headers: 'X: z\r\n', body: Buffer.from('ends in CR\r') },
  ]
  const expected = [
    { headers: { 'content-type': 'application/dicom', 'content-location': 'a' }, body: parts[0]!.body },
    { headers: {}, body: parts[1]!.body },
    { headers: { 'content-type': 'text/plain' }, body: Buffer.alloc(0) },
    { headers: { x: 'y' }, body: parts[3]!.body },
    { headers: { x: 'z' }, body: parts[4]!.body },
  ]
  const body = build(B, parts, { preamble: 'This is a preamble\r\n--b0und4rX\r\n', epilogue: '\r\nthis is the epilogue\r\n--b0und4ry\r\n' })

  test('whole body in one chunk', async () => {
    assert.deepEqual(await collect(source([body]), B), expected)
  })
  for (const size of [1, 2, 3, 7, 11, 64]) {
    test(`${size}-byte chunks`, async () => {
      assert.deepEqual(await collect(source(split(body, size)), B), expected)
    })
  }
  test('two chunks split at every position', async () => {
    for (let i = 0; i <= body.length; i++) {
      assert.deepEqual(await collect(source([body.subarray(0, i), body.subarray(i)]), B), expected, `split at ${i}`)
    }
  })
  test('three chunks split around every delimiter position', async () => {
    // Every pair of cut points within a window around each delimiter occurrence.
    const delim = Buffer.from(`\r\n--${B}`)
    let at = body.indexOf(delim)
    while (at >= 0) {
      for (let i = Math.max(0, at - 2); i <= Math.min(body.length, at + delim.length + 4); i++) {
        for (let j = i; j <= Math.min(body.length, at + delim.length + 6); j++) {
          const r = await collect(source([body.subarray(0, i), body.subarray(i, j), body.subarray(j)]), B)
          assert.deepEqual(r, expected, `cuts ${i},${j}`)
        }
      }
      at = body.indexOf(delim, at + 1)
    }
  })
  test('random chunkings', async () => {
    for (let seed = 1; seed <= 200; seed++) {
      assert.deepEqual(await collect(source(randomSplit(body, seed)), B), expected, `seed ${seed}`)
    }
  })
  test('body starting directly with the delimiter, no epilogue, final CRLF optional', async () => {
    const b = Buffer.from(`--${B}\r\n\r\nA\r\n--${B}--`)
    assert.deepEqual(await collect(source([b]), B), [{ headers: {}, body: Buffer.from('A') }])
    const c = Buffer.from(`--${B}\r\n\r\nA\r\n--${B}--\r\n`)
    assert.deepEqual(await collect(source(split(c, 1)), B), [{ headers: {}, body: Buffer.from('A') }])
  })
  test('transport padding after the boundary', async () => {
    const b = build(B, [{ headers: 'A: 1\r\n', body: Buffer.from('x') }, { body: Buffer.from('y') }], { padding: ' \t ' })
    for (const size of [1, 5, 1000]) {
      assert.deepEqual(await collect(source(split(b, size)), B), [
        { headers: { a: '1' }, body: Buffer.from('x') },
        { headers: {}, body: Buffer.from('y') },
      ])
    }
  })
  test('trailing bytes on a delimiter line are tolerated (RFC 2046 matches the boundary as a line prefix)', async () => {
    const b = Buffer.from(`--${B}\r\n\r\nA\r\n--${B}-x \r\n\r\nB\r\n--${B}--`)
    for (const size of [1, 1000]) {
      assert.deepEqual(await collect(source(split(b, size)), B), [
        { headers: {}, body: Buffer.from('A') },
        { headers: {}, body: Buffer.from('B') },
      ])
    }
  })
  test('boundary with regex/special characters and maximum length', async () => {
    for (const bd of ["'()+_,-./:=? x", 'a'.repeat(70), 'z']) {
      const b = build(bd, [{ body: Buffer.from(`--${bd}`) }, { body: Buffer.from('\r\n--') }])
      assert.deepEqual(await collect(source(split(b, 3)), bd), [
        { headers: {}, body: Buffer.from(`--${bd}`) },
        { headers: {}, body: Buffer.from('\r\n--') },
      ], bd)
    }
  })
  test('string chunks from a stream with an encoding', async () => {
    const s = new PassThrough()
    s.setEncoding('latin1')
    s.end(build(B, [{ body: Buffer.from([0xff, 0x00, 0x80]) }]))
    assert.deepEqual(await collect(s, B), [{ headers: {}, body: Buffer.from([0xff, 0x00, 0x80]) }])
  })
})

describe('readParts: errors', () => {
  test('wrong boundary: DICOMWEB_MULTIPART_BAD_BOUNDARY before any part', async () => {
    const body = build(B, [{ body: Buffer.from('x') }])
    let yielded = 0
    await assert.rejects(async () => {
      for await (const p of readParts(source(split(body, 3)), 'other')) {
        yielded++
        p.body.resume()
      }
    }, (e: any) => e.code === 'DICOMWEB_MULTIPART_BAD_BOUNDARY' && e.status === 400)
    assert.equal(yielded, 0)
  })
  test('empty body: bad boundary', async () => {
    await assert.rejects(collect(source([]), B), (e: any) => e.code === 'DICOMWEB_MULTIPART_BAD_BOUNDARY')
  })
  test('wrong boundary on a huge body fails after the preamble limit, without reading it all', async () => {
    let produced = 0
    const src = Readable.from((function* () {
      for (let i = 0; i < 100_000; i++) {
        produced += 65536
        yield Buffer.alloc(65536, 0x41)
      }
    })())
    await assert.rejects(collect(src, B), (e: any) => e.code === 'DICOMWEB_MULTIPART_BAD_BOUNDARY')
    assert.ok(produced < 4 * 1024 * 1024, `read ${produced} bytes`)
  })
  test('missing final boundary: error on the part stream AND from the generator', async () => {
    const body = Buffer.from(`--${B}\r\nA: 1\r\n\r\nfirst\r\n--${B}\r\n\r\nsecond part without end`)
    for (const size of [1, 4, 1000]) {
      const it = readParts(source(split(body, size)), B)
      const first = await it.next()
      assert.equal((await readAll((first.value as Part).body)).toString(), 'first')
      const second = await it.next()
      const p = second.value as Part
      await assert.rejects(readAll(p.body), (e: any) => e.code === 'DICOMWEB_MULTIPART_TRUNCATED')
      await assert.rejects(it.next(), (e: any) => e.code === 'DICOMWEB_MULTIPART_TRUNCATED')
    }
  })
  test('truncated inside the delimiter line or the header block', async () => {
    for (const body of [`--${B}\r\nA: 1`, `--${B}`, `--${B}\r\n`, `--${B}\r\n\r\nx\r\n--${B}`, `--${B}\r\n\r\nx\r\n--${B}-`]) {
      await assert.rejects(collect(source([Buffer.from(body)]), B), (e: any) => e.code === 'DICOMWEB_MULTIPART_TRUNCATED', body)
    }
  })
  test('oversized header block and endless delimiter line are malformed', async () => {
    const big = Buffer.from(`--${B}\r\nX: ${'a'.repeat(20000)}\r\n\r\nbody\r\n--${B}--`)
    await assert.rejects(collect(source(split(big, 1000)), B), (e: any) => e.code === 'DICOMWEB_MULTIPART_MALFORMED')
    await assert.rejects(collect(source([big]), B), (e: any) => e.code === 'DICOMWEB_MULTIPART_MALFORMED')
    const line = Buffer.from(`--${B}${'x'.repeat(5000)}`)
    await assert.rejects(collect(source(split(line, 100)), B), (e: any) => e.code === 'DICOMWEB_MULTIPART_MALFORMED')
  })
  test('source error mid-part: the part errors and the generator throws', async () => {
    const src = new PassThrough()
    const it = readParts(src, B)
    src.write(`--${B}\r\n\r\nsome bytes`)
    const { value } = await it.next()
    const part = value as Part
    const reading = readAll(part.body)
    src.destroy(new Error('ECONNRESET'))
    await assert.rejects(reading, (e: any) => e.code === 'DICOMWEB_MULTIPART_TRUNCATED' && (e.cause as Error).message === 'ECONNRESET')
    await assert.rejects(it.next(), (e: any) => e.code === 'DICOMWEB_MULTIPART_TRUNCATED')
  })
  test('premature close (destroy without error) is truncation', async () => {
    const src = new PassThrough()
    const it = readParts(src, B)
    src.write(`--${B}\r\n\r\nsome bytes`)
    const part = (await it.next()).value as Part
    const reading = readAll(part.body)
    src.destroy()
    await assert.rejects(reading, (e: any) => e.code === 'DICOMWEB_MULTIPART_TRUNCATED')
    await assert.rejects(it.next(), (e: any) => e.code === 'DICOMWEB_MULTIPART_TRUNCATED')
  })
  test("'aborted' event alone fails the parse", async () => {
    const src = new PassThrough()
    const it = readParts(src, B)
    src.write(`--${B}\r\n\r\nsome bytes`)
    const part = (await it.next()).value as Part
    const reading = readAll(part.body)
    src.emit('aborted')
    await assert.rejects(reading, (e: any) => e.code === 'DICOMWEB_MULTIPART_TRUNCATED')
    await assert.rejects(it.next(), (e: any) => e.code === 'DICOMWEB_MULTIPART_TRUNCATED')
  })
  test('a KuraError from an upstream stage is passed through unchanged', async () => {
    const { KuraError } = await import('@kura/core')
    const src = new PassThrough()
    const it = readParts(src, B)
    src.write(`--${B}\r\n\r\nx`)
    const part = (await it.next()).value as Part
    part.body.resume()
    src.destroy(new KuraError('PAYLOAD_TOO_LARGE', 'too big', { status: 413 }))
    await assert.rejects(it.next(), (e: any) => e.code === 'PAYLOAD_TOO_LARGE')
  })
  test('an error on an unread part does not crash the process', async () => {
    const src = new PassThrough()
    const it = readParts(src, B)
    src.write(`--${B}\r\n\r\nx`)
    await it.next() // part never read, no listener attached by the test
    src.destroy(new Error('boom'))
    await assert.rejects(it.next(), (e: any) => e.code === 'DICOMWEB_MULTIPART_TRUNCATED')
  })
  test('error after the closing delimiter (in the epilogue) is ignored', async () => {
    const src = new PassThrough()
    const done = collect(src, B)
    src.write(`--${B}\r\n\r\nx\r\n--${B}--\r\nepilogue`)
    setTimeout(() => src.destroy(new Error('late')), 10)
    assert.deepEqual(await done, [{ headers: {}, body: Buffer.from('x') }])
  })
  test('real HTTP client disconnect mid-upload', async () => {
    let resolveResult!: (v: unknown) => void
    const result = new Promise((r) => (resolveResult = r))
    const server = createServer(async (req: IncomingMessage) => {
      const seen: string[] = []
      try {
        for await (const p of readParts(req, B)) {
          try {
            seen.push((await readAll(p.body)).toString())
          } catch (e) {
            seen.push(`part error ${(e as any).code}`)
          }
        }
        resolveResult({ ok: seen })
      } catch (e) {
        resolveResult({ error: (e as any).code, seen })
      }
    })
    server.listen(0)
    await once(server, 'listening')
    const port = (server.address() as AddressInfo).port
    const req = request({ port, method: 'POST', headers: { 'content-type': `multipart/related; boundary=${B}`, 'content-length': 100000 } })
    req.on('error', () => {})
    req.write(`--${B}\r\n\r\nfirst\r\n--${B}\r\n\r\npartial`)
    setTimeout(() => req.destroy(), 50)
    const r = (await result) as any
    server.close()
    assert.equal(r.error, 'DICOMWEB_MULTIPART_TRUNCATED')
    assert.deepEqual(r.seen, ['first', 'part error DICOMWEB_MULTIPART_TRUNCATED'])
  })
})

describe('readParts: consumers', () => {
  const body = build(B, [{ body: Buffer.from('one') }, { body: Buffer.from('two') }, { body: Buffer.from('three') }])
  test('parts whose body is never read are drained when the next part is requested', async () => {
    const seen: string[] = []
    let i = 0
    for await (const p of readParts(source(split(body, 2)), B)) {
      if (i++ === 1) seen.push((await readAll(p.body)).toString())
    }
    assert.deepEqual(seen, ['two'])
  })
  test('a part destroyed mid-way is skipped, the next part is intact', async () => {
    const big = randomBytes(300_000)
    const b = build(B, [{ body: big }, { body: Buffer.from('after') }])
    const seen: string[] = []
    for await (const p of readParts(source(split(b, 1000)), B)) {
      if (seen.length === 0) {
        for await (const _ of p.body) break // for-await break destroys the stream
        seen.push('skipped')
      } else seen.push((await readAll(p.body)).toString())
    }
    assert.deepEqual(seen, ['skipped', 'after'])
  })
  test('leaving the loop early stops parsing and leaves the source alive', async () => {
    const src = new PassThrough()
    src.write(body)
    for await (const p of readParts(src, B)) {
      await readAll(p.body)
      break
    }
    assert.equal(src.destroyed, false)
    src.end()
  })
  test('thousands of parts', async () => {
    const parts = Array.from({ length: 3000 }, (_, i) => ({ headers: `Content-Type: application/dicom\r\nX-I: ${i}\r\n`, body: randomBytes(i % 97) }))
    const b = build(B, parts)
    const got = await collect(source(split(b, 4096)), B)
    assert.equal(got.length, 3000)
    got.forEach((g, i) => {
      assert.equal(g.headers['x-i'], String(i))
      assert.ok(g.body.equals(parts[i]!.body), `part ${i}`)
    })
  })
  test('large part streams with flat memory and backpressure (256 MiB, slow consumer)', async () => {
    const size = 256 * 1024 * 1024
    const chunk = randomBytes(65536)
    let produced = 0
    let consumed = 0
    let maxAhead = 0
    const src = Readable.from((function* () {
      yield Buffer.from(`--${B}\r\nContent-Type: application/dicom\r\n\r\n`)
      for (let i = 0; i < size / chunk.length; i++) {
        produced += chunk.length
        maxAhead = Math.max(maxAhead, produced - consumed)
        yield chunk
      }
      yield Buffer.from(`\r\n--${B}--\r\n`)
    })())
    const hash = createHash('sha256')
    const expected = createHash('sha256')
    for (let i = 0; i < size / chunk.length; i++) expected.update(chunk)
    const rss0 = process.memoryUsage().rss
    let n = 0
    for await (const p of readParts(src, B)) {
      for await (const c of p.body) {
        hash.update(c)
        consumed += c.length
        if (++n % 512 === 0) await new Promise((r) => setImmediate(r)) // a slower consumer now and then
      }
    }
    assert.equal(consumed, size)
    assert.equal(hash.digest('hex'), expected.digest('hex'))
    // The reader never runs more than a few chunks ahead of the consumer.
    assert.ok(maxAhead <= 1024 * 1024, `ran ${maxAhead} bytes ahead`)
    assert.ok(process.memoryUsage().rss - rss0 < 100 * 1024 * 1024, 'rss grew by more than 100 MB')
  })
  test('property: writer output round-trips through the reader under any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
        fc.constantFrom('x', 'kura-1234', "a'()+_,-./:=? b"),
        async (bodies, sizes, boundary) => {
          // Bodies built from delimiter fragments make near-misses likely.
          const parts = bodies.map((b, i) => ({ contentType: 'application/dicom', headers: { 'X-N': String(i) }, body: Buffer.concat([Buffer.from(b), Buffer.from(`\r\n--${boundary}`.slice(0, b.length % (boundary.length + 4)))]) }))
          const w = multipartRelated(parts, boundary)
          const whole = await readAll(w.stream)
          const chunks: Buffer[] = []
          for (let i = 0, k = 0; i < whole.length; k++) {
            const n = sizes[k % sizes.length]!
            chunks.push(whole.subarray(i, i + n))
            i += n
          }
          const got = await collect(source(chunks), boundary)
          assert.equal(got.length, parts.length)
          got.forEach((g, i) => {
            assert.equal(g.headers['x-n'], String(i))
            assert.equal(g.headers['content-type'], 'application/dicom')
            assert.ok(g.body.equals(parts[i]!.body))
          })
        },
      ),
      { numRuns: 300 },
    )
  })
})
