/** @module Tests of the streaming multipart/related writer: exact framing, body kinds, backpressure, errors. */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { setImmediate as tick } from 'node:timers/promises'
import { multipartRelated, randomBoundary, type OutgoingPart } from './multipart-writer.ts'
import { parseContentType, readParts } from './multipart-reader.ts'

async function readAll(r: Readable): Promise<Buffer> {
  const bufs: Buffer[] = []
  for await (const c of r) bufs.push(Buffer.from(c))
  return Buffer.concat(bufs)
}

describe('multipartRelated', () => {
  test('exact bytes: delimiters, headers, CRLF ownership, close delimiter', async () => {
    const w = multipartRelated(
      [
        { contentType: 'application/dicom; transfer-syntax=1.2.840.10008.1.2.1', headers: { 'Content-Location': '/studies/1' }, body: Buffer.from('AB') },
        { contentType: 'application/octet-stream', body: new Uint8Array(0) },
      ],
      'BND',
      { type: 'application/dicom' },
    )
    assert.equal(w.contentType, 'multipart/related; type="application/dicom"; boundary=BND')
    assert.equal(
      (await readAll(w.stream)).toString(),
      '--BND\r\nContent-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1\r\nContent-Location: /studies/1\r\n\r\nAB' +
        '\r\n--BND\r\nContent-Type: application/octet-stream\r\n\r\n' +
        '\r\n--BND--\r\n',
    )
  })
  test('no parts: only the close delimiter', async () => {
    const w = multipartRelated([], 'x')
    assert.equal(w.contentType, 'multipart/related; boundary=x')
    assert.equal((await readAll(w.stream)).toString(), '--x--\r\n')
  })
  test('random boundaries are valid and distinct', () => {
    const a = randomBoundary()
    const b = randomBoundary()
    assert.notEqual(a, b)
    assert.match(a, /^[0-9A-Za-z-]{1,70}$/)
    const w = multipartRelated([])
    assert.equal(parseContentType(w.contentType).boundary, w.boundary)
  })
  test('a boundary that is not a token is quoted in the Content-Type', () => {
    const w = multipartRelated([], 'a:b c')
    assert.equal(w.contentType, 'multipart/related; boundary="a:b c"')
    assert.equal(parseContentType(w.contentType).boundary, 'a:b c')
  })
  test('invalid boundaries and header injection are refused', async () => {
    for (const b of ['', 'a'.repeat(71), 'ends with space ', 'semi;colon', 'new\r\nline']) {
      assert.throws(() => multipartRelated([], b), (e: any) => e.code === 'DICOMWEB_MULTIPART_INVALID_BOUNDARY', JSON.stringify(b))
    }
    const bad = (part: OutgoingPart) => assert.rejects(readAll(multipartRelated([part], 'b').stream), (e: any) => e.code === 'DICOMWEB_MULTIPART_INVALID_HEADER')
    await bad({ contentType: 'a/b\r\nX-Evil: 1', body: Buffer.alloc(0) })
    await bad({ contentType: 'a/b', headers: { 'X-A': 'v\r\n\r\nbody' }, body: Buffer.alloc(0) })
    await bad({ contentType: 'a/b', headers: { 'Bad Name': 'v' }, body: Buffer.alloc(0) })
    assert.throws(() => multipartRelated([], 'b', { type: 'a/b"; boundary=evil' }), (e: any) => e.code === 'DICOMWEB_MULTIPART_INVALID_HEADER')
  })
  test('a Content-Type in headers does not duplicate the part Content-Type', async () => {
    const out = (await readAll(multipartRelated([{ contentType: 'a/b', headers: { 'content-type': 'c/d' }, body: Buffer.from('x') }], 'q').stream)).toString()
    assert.equal(out, '--q\r\nContent-Type: a/b\r\n\r\nx\r\n--q--\r\n')
  })
  test('body kinds: Buffer, Uint8Array, Readable (binary and string), async iterable; parts from an async generator', async () => {
    async function* parts(): AsyncGenerator<OutgoingPart> {
      yield { contentType: 'a/1', body: Buffer.from('buffer') }
      yield { contentType: 'a/2', body: new Uint8Array([0, 1, 2, 255]) }
      yield { contentType: 'a/3', body: Readable.from([Buffer.from('rea'), Buffer.from('dable')]) }
      yield { contentType: 'a/4', body: Readable.from(['str', 'ing']) }
      yield {
        contentType: 'a/5',
        body: (async function* () {
          yield new Uint8Array([65])
          yield new Uint8Array(0)
          yield new Uint8Array([66])
        })(),
      }
    }
    const w = multipartRelated(parts(), undefined, { type: 'application/dicom' })
    const got: Array<[string, Buffer]> = []
    for await (const p of readParts(w.stream, parseContentType(w.contentType).boundary)) got.push([p.headers['content-type']!, await readAll(p.body)])
    assert.deepEqual(got, [
      ['a/1', Buffer.from('buffer')],
      ['a/2', Buffer.from([0, 1, 2, 255])],
      ['a/3', Buffer.from('readable')],
      ['a/4', Buffer.from('string')],
      ['a/5', Buffer.from('AB')],
    ])
  })
  test('backpressure: a huge part body is only read as fast as the output is consumed', async () => {
    let produced = 0
    let finalized = false
    const body = (async function* () {
      try {
        for (;;) {
          produced += 65536
          yield new Uint8Array(65536)
        }
      } finally {
        finalized = true
      }
    })()
    const w = multipartRelated([{ contentType: 'application/dicom', body }], 'b')
    let consumed = 0
    for await (const c of w.stream) {
      consumed += c.length
      if (consumed > 10 * 1024 * 1024) break // destroys the output stream
    }
    await tick()
    assert.ok(produced - consumed < 1024 * 1024, `produced ${produced}, consumed ${consumed}`)
    assert.equal(finalized, true, 'the part body was released when the output was destroyed')
  })
  test('parts are pulled lazily, one after the other', async () => {
    const pulled: number[] = []
    async function* parts(): AsyncGenerator<OutgoingPart> {
      for (let i = 0; i < 3; i++) {
        pulled.push(i)
        yield { contentType: 'a/b', body: Buffer.alloc(200_000, i) }
      }
    }
    const w = multipartRelated(parts(), 'b', { highWaterMark: 1024 })
    w.stream.read(0) // start
    await tick()
    assert.deepEqual(pulled, [0])
    await readAll(w.stream)
    assert.deepEqual(pulled, [0, 1, 2])
  })
  test('a Readable part body is destroyed when the client goes away', async () => {
    const src = new Readable({ read() { this.push(Buffer.alloc(65536)) } })
    const w = multipartRelated([{ contentType: 'a/b', body: src }], 'b')
    await new Promise<void>((resolve) => w.stream.once('data', () => resolve()))
    w.stream.destroy()
    await tick()
    await tick()
    assert.equal(src.destroyed, true)
  })
  test('an error in a part body destroys the output with that error', async () => {
    const body = (async function* () {
      yield new Uint8Array([1])
      throw new Error('storage read failed')
    })()
    await assert.rejects(readAll(multipartRelated([{ contentType: 'a/b', body }], 'b').stream), /storage read failed/)
    const parts = (async function* (): AsyncGenerator<OutgoingPart> {
      yield { contentType: 'a/b', body: Buffer.from('x') }
      throw new Error('listing failed')
    })()
    await assert.rejects(readAll(multipartRelated(parts, 'b').stream), /listing failed/)
  })
})
