/**
 * @module S3ObjectStore: objects in an S3 bucket (AWS, MinIO, Ceph, s3rver).
 *
 * Bodies are streamed, never held whole: small ones (under one part) go up in a single PUT,
 * larger ones as a multipart upload, which S3 makes visible only on completion — so an aborted
 * or mismatching upload never shows up under its key. Each object carries its SHA-256 as
 * metadata (`x-amz-meta-sha256`). Because metadata must be sent when an upload starts, a large
 * stream whose checksum the caller does not know is first spooled to a local temp file while
 * hashing, then uploaded from there.
 *
 * Random access (`source`) uses range GETs with a one-block read-ahead cache, so a parser
 * walking a header in 64-byte steps costs one request per block, not one per step.
 */
import { createReadStream } from 'node:fs'
import { mkdir, open, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { createHash } from 'node:crypto'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3'
import { CoreErrors, newId, sha256Hex, type ByteSource, type ObjectInfo, type PutOptions, type S3Config } from '@kura/core'
import { StorageErrors } from '../errors.ts'
import type { ArchiveObjectStore, PutFileOptions } from './archive-object-store.ts'
import { assertValidKey, assertValidPrefix } from './keys.ts'
import { assertRange } from './filesystem.ts'

export interface S3ObjectStoreOptions {
  /** Local directory for spooling large streams of unknown checksum (see module comment). */
  spoolDir: string
  /** Create the bucket when it does not exist (default true); false makes a missing bucket an error at open. */
  createBucket?: boolean
  /** Multipart part size in bytes (default 8 MiB, minimum 5 MiB as S3 requires). */
  partSize?: number
  /** Parts uploaded at once (default 2); memory use is about (this + 1) × partSize per upload. */
  partConcurrency?: number
  /** Read-ahead block for `source` reads (default 256 KiB). */
  readBlockSize?: number
  /** Keys per list request (default 1000, the S3 maximum); smaller only to exercise paging in tests. */
  listPageSize?: number
}

const MiB = 1024 * 1024
const MAX_PARTS = 10_000

export class S3ObjectStore implements ArchiveObjectStore {
  readonly kind = 's3' as const
  private readonly bucket: string
  private readonly partSize: number
  private readonly partConcurrency: number
  private readonly readBlockSize: number
  private readonly listPageSize: number

  private constructor(
    private readonly client: S3Client,
    private readonly config: S3Config,
    private readonly opts: S3ObjectStoreOptions,
  ) {
    this.bucket = config.bucket
    this.partSize = Math.max(5 * MiB, opts.partSize ?? 8 * MiB)
    this.partConcurrency = Math.max(1, opts.partConcurrency ?? 2)
    this.readBlockSize = Math.max(4096, opts.readBlockSize ?? 256 * 1024)
    this.listPageSize = Math.min(1000, Math.max(1, opts.listPageSize ?? 1000))
  }

  /** Connects, checks the bucket (creating it unless told not to) and prepares the spool dir. */
  static async open(config: S3Config, opts: S3ObjectStoreOptions): Promise<S3ObjectStore> {
    const client = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      credentials:
        config.accessKeyId && config.secretAccessKey ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } : undefined,
      // Newer SDKs add CRC checksums to every request and verify them on responses; self-hosted
      // servers (s3rver, older MinIO) reject or lack them. Our own SHA-256 covers integrity.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    })
    const store = new S3ObjectStore(client, config, opts)
    try {
      await store.ensureBucket(opts.createBucket ?? true)
      await mkdir(opts.spoolDir, { recursive: true })
    } catch (e) {
      client.destroy()
      throw e
    }
    return store
  }

  private get endpointName(): string {
    return this.config.endpoint ?? `AWS S3 (${this.config.region})`
  }

  private async ensureBucket(create: boolean): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }))
      return
    } catch (e) {
      if (!isNotFound(e)) throw StorageErrors.s3Unavailable(this.endpointName, e)
    }
    if (!create) throw StorageErrors.bucketMissing(this.bucket)
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }))
    } catch (e) {
      // Another process may have created it between our HEAD and CREATE.
      const name = (e as { name?: string }).name
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw StorageErrors.s3Unavailable(this.endpointName, e)
    }
  }

  async put(key: string, body: Readable | Uint8Array, opts: PutOptions = {}): Promise<ObjectInfo> {
    assertValidKey(key)
    if (body instanceof Uint8Array) {
      const sha256 = sha256Hex(body)
      if (opts.sha256 && opts.sha256 !== sha256) throw StorageErrors.checksumMismatch(key, opts.sha256, sha256)
      await this.putSingle(key, body, body.byteLength, sha256, opts.contentType)
      return { key, size: body.byteLength, sha256 }
    }
    const parts = partsOf(body, (n) => this.partSizeFor(n))
    let first: IteratorResult<Buffer>
    try {
      first = await parts.next()
    } catch (e) {
      body.destroy()
      throw e
    }
    const head = first.done ? Buffer.alloc(0) : first.value
    if (head.byteLength < this.partSize) {
      // The whole stream fitted in one part: a single PUT, checksum known before sending.
      const sha256 = sha256Hex(head)
      if (opts.sha256 && opts.sha256 !== sha256) throw StorageErrors.checksumMismatch(key, opts.sha256, sha256)
      await this.putSingle(key, head, head.byteLength, sha256, opts.contentType)
      return { key, size: head.byteLength, sha256 }
    }
    if (opts.sha256) return this.putMultipartStream(key, head, parts, opts.sha256, opts.contentType)
    return this.putSpooled(key, head, parts, opts.contentType)
  }

  localPath(_key: string): null {
    return null
  }

  async putFile(key: string, path: string, opts: PutFileOptions = {}): Promise<ObjectInfo> {
    assertValidKey(key)
    let sha256: string
    let size: number
    if (opts.verified && opts.sha256) {
      // The caller hashed exactly these bytes (PutFileOptions.verified): a 2 GB file is not read twice.
      sha256 = opts.sha256
      size = (await stat(path)).size
    } else {
      const hash = createHash('sha256')
      size = 0
      for await (const chunk of createReadStream(path)) {
        hash.update(chunk as Buffer)
        size += (chunk as Buffer).byteLength
      }
      sha256 = hash.digest('hex')
      if (opts.sha256 && opts.sha256 !== sha256) throw StorageErrors.checksumMismatch(key, opts.sha256, sha256)
    }
    await this.uploadFile(key, path, size, sha256, opts.contentType)
    if (opts.move) await rm(path, { force: true })
    return { key, size, sha256 }
  }

  /** Part n's size: doubles every 2,000 parts so an unknown-length stream cannot run out of the 10,000 parts S3 allows. */
  private partSizeFor(partNumber: number): number {
    return this.partSize * 2 ** Math.floor((partNumber - 1) / 2000)
  }

  private async putSingle(key: string, body: Uint8Array | Readable, size: number, sha256: string, contentType?: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: size, ContentType: contentType, Metadata: { sha256 } }),
      )
    } catch (e) {
      throw StorageErrors.s3Failed('store', key, e)
    }
  }

  /** Checksum given up front: stream parts straight to S3 and complete only if the bytes match it. */
  private async putMultipartStream(
    key: string,
    firstPart: Buffer,
    rest: AsyncGenerator<Buffer>,
    expected: string,
    contentType?: string,
  ): Promise<ObjectInfo> {
    const hash = createHash('sha256')
    let size = 0
    async function* all(): AsyncGenerator<Buffer> {
      yield firstPart
      yield* rest
    }
    const counted = (async function* () {
      for await (const part of all()) {
        hash.update(part)
        size += part.byteLength
        yield part
      }
    })()
    const complete = () => {
      const actual = hash.digest('hex')
      if (actual !== expected) throw StorageErrors.checksumMismatch(key, expected, actual)
    }
    await this.multipartUpload(key, expected, contentType, mapParts(counted), complete)
    return { key, size, sha256: expected }
  }

  /** Checksum unknown: spool to a local temp file while hashing, then upload it with the checksum as metadata. */
  private async putSpooled(key: string, firstPart: Buffer, rest: AsyncGenerator<Buffer>, contentType?: string): Promise<ObjectInfo> {
    const tmp = join(this.opts.spoolDir, `${newId()}.part`)
    try {
      const hash = createHash('sha256')
      let size = 0
      const fh = await open(tmp, 'wx')
      try {
        for (let part: Buffer | undefined = firstPart; part; ) {
          hash.update(part)
          size += part.byteLength
          await fh.write(part)
          const next: IteratorResult<Buffer> = await rest.next()
          part = next.done ? undefined : next.value
        }
      } finally {
        await fh.close()
      }
      const sha256 = hash.digest('hex')
      await this.uploadFile(key, tmp, size, sha256, contentType)
      return { key, size, sha256 }
    } finally {
      await rm(tmp, { force: true })
    }
  }

  private async uploadFile(key: string, path: string, size: number, sha256: string, contentType?: string): Promise<void> {
    if (size <= this.partSize) {
      await this.putSingle(key, createReadStream(path), size, sha256, contentType)
      return
    }
    const partSize = Math.max(this.partSize, Math.ceil(size / (MAX_PARTS - 1)))
    async function* fileParts(): AsyncGenerator<{ body: Readable; length: number }> {
      for (let offset = 0; offset < size; offset += partSize) {
        const length = Math.min(partSize, size - offset)
        yield { body: createReadStream(path, { start: offset, end: offset + length - 1 }), length }
      }
    }
    await this.multipartUpload(key, sha256, contentType, fileParts(), () => {
      // The file did not change under us: its size still matches what was hashed.
      return stat(path).then((st) => {
        if (st.size !== size) throw StorageErrors.s3Failed('upload (file changed while uploading)', key, undefined)
      })
    })
  }

  /**
   * Runs one multipart upload with up to `partConcurrency` parts in flight. `beforeComplete`
   * may throw to abandon it; any failure aborts the upload, so nothing appears under `key`.
   */
  private async multipartUpload(
    key: string,
    sha256: string,
    contentType: string | undefined,
    parts: AsyncIterable<{ body: Uint8Array | Readable; length: number }>,
    beforeComplete: () => void | Promise<void>,
  ): Promise<void> {
    // S3 failures become STORAGE_S3_FAILED here; errors from `parts` (the caller's stream,
    // e.g. a client disconnecting) pass through unchanged.
    const send = async <T>(p: Promise<T>): Promise<T> => {
      try {
        return await p
      } catch (e) {
        throw StorageErrors.s3Failed('store', key, e)
      }
    }
    let uploadId: string | undefined
    try {
      const created = await send(
        this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType, Metadata: { sha256 } })),
      )
      uploadId = created.UploadId
      if (!uploadId) throw StorageErrors.s3Failed('start an upload of', key, undefined)
      const done: CompletedPart[] = []
      const inFlight = new Set<Promise<void>>()
      let failure: unknown
      let partNumber = 0
      for await (const part of parts) {
        if (failure) break
        const PartNumber = ++partNumber
        if (PartNumber > MAX_PARTS) throw StorageErrors.s3Failed(`store (more than ${MAX_PARTS} parts)`, key, undefined)
        const cmd = new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber, Body: part.body, ContentLength: part.length })
        const p: Promise<void> = send(this.client.send(cmd))
          .then((r) => {
            done.push({ ETag: r.ETag, PartNumber })
          })
          .catch((e) => {
            failure ??= e
          })
          .finally(() => inFlight.delete(p))
        inFlight.add(p)
        if (inFlight.size >= this.partConcurrency) await Promise.race(inFlight)
      }
      await Promise.all(inFlight)
      if (failure) throw failure
      await beforeComplete()
      done.sort((a, b) => a.PartNumber! - b.PartNumber!)
      await send(
        this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: done } })),
      )
    } catch (e) {
      if (uploadId) {
        // Best effort: an unfinished upload is invisible under the key either way, and bucket
        // lifecycle rules (AbortIncompleteMultipartUpload) clean up what this cannot.
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => {})
      }
      throw e
    }
  }

  async get(key: string, range?: { offset: number; length: number }): Promise<Readable> {
    assertValidKey(key)
    if (range) {
      if (range.length === 0 || !Number.isSafeInteger(range.length) || !Number.isSafeInteger(range.offset) || range.offset < 0 || range.length < 0) {
        const info = await this.head(key)
        if (!info) throw CoreErrors.notFound(`Object "${key}"`)
        assertRange(range, info.size)
        return Readable.from([])
      }
    }
    try {
      const r = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.offset}-${range.offset + range.length - 1}` : undefined,
        }),
      )
      return r.Body as Readable
    } catch (e) {
      if (isNotFound(e)) throw CoreErrors.notFound(`Object "${key}"`)
      if (range && httpStatus(e) === 416) {
        // S3 refuses a range starting exactly at the end; the contract returns nothing there.
        const info = await this.head(key)
        if (!info) throw CoreErrors.notFound(`Object "${key}"`)
        assertRange(range, info.size)
        return Readable.from([])
      }
      throw StorageErrors.s3Failed('read', key, e)
    }
  }

  async source(key: string): Promise<ByteSource> {
    const info = await this.head(key)
    if (!info) throw CoreErrors.notFound(`Object "${key}"`)
    const fetchRange = async (start: number, end: number): Promise<Uint8Array> => {
      try {
        const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end - 1}` }))
        const bytes = await r.Body!.transformToByteArray()
        if (bytes.byteLength !== end - start) throw new Error(`range ${start}-${end - 1} returned ${bytes.byteLength} bytes`)
        return bytes
      } catch (e) {
        if (isNotFound(e)) throw CoreErrors.notFound(`Object "${key}"`)
        throw StorageErrors.s3Failed('read', key, e)
      }
    }
    return new S3RangeSource(fetchRange, info.size, this.readBlockSize)
  }

  async head(key: string): Promise<ObjectInfo | null> {
    assertValidKey(key)
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }))
      const sha256 = r.Metadata?.sha256
      return sha256 ? { key, size: r.ContentLength ?? 0, sha256 } : { key, size: r.ContentLength ?? 0 }
    } catch (e) {
      if (isNotFound(e)) return null
      throw StorageErrors.s3Failed('look up', key, e)
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key)
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
    } catch (e) {
      if (isNotFound(e)) return
      throw StorageErrors.s3Failed('delete', key, e)
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix)
    let ContinuationToken: string | undefined
    do {
      let page
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix || undefined, ContinuationToken, MaxKeys: this.listPageSize }),
        )
      } catch (e) {
        throw StorageErrors.s3Failed('list', prefix, e)
      }
      for (const o of page.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size ?? 0 }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (ContinuationToken)
  }

  async close(): Promise<void> {
    this.client.destroy()
  }
}

/**
 * Random access over an S3 object by range GETs. Keeps the last block (and a request for it
 * still in flight) so small sequential reads share one request; reads of a block or more go
 * straight through. `requests` counts GETs, for tests and diagnostics.
 */
export class S3RangeSource implements ByteSource {
  requests = 0
  private block: { start: number; end: number; data: Promise<Uint8Array> } | null = null

  constructor(
    private readonly fetchRange: (start: number, end: number) => Promise<Uint8Array>,
    readonly size: number,
    private readonly blockSize: number,
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset > this.size) {
      throw CoreErrors.rangeOutOfBounds(offset, length, this.size)
    }
    const end = Math.min(this.size, offset + length)
    if (end <= offset) return new Uint8Array(0)
    const b = this.block
    if (b && offset >= b.start && end <= b.end) return (await b.data).subarray(offset - b.start, end - b.start)
    if (end - offset >= this.blockSize) {
      this.requests++
      return this.fetchRange(offset, end)
    }
    const start = offset
    const blockEnd = Math.min(this.size, start + this.blockSize)
    this.requests++
    const data = this.fetchRange(start, blockEnd)
    const block = { start, end: blockEnd, data }
    this.block = block
    data.catch(() => {
      if (this.block === block) this.block = null
    })
    return (await data).subarray(offset - start, end - start)
  }

  async close(): Promise<void> {
    this.block = null
  }
}

/** Re-chunks a byte stream into parts of `sizeFor(partNumber)` bytes (the last may be shorter). */
async function* partsOf(body: AsyncIterable<unknown>, sizeFor: (partNumber: number) => number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  let partNumber = 1
  for await (const raw of body) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : Buffer.from((raw as Uint8Array).buffer, (raw as Uint8Array).byteOffset, (raw as Uint8Array).byteLength)
    pending.push(chunk)
    pendingBytes += chunk.byteLength
    while (pendingBytes >= sizeFor(partNumber)) {
      const want = sizeFor(partNumber)
      const all = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes)
      yield all.subarray(0, want)
      partNumber++
      const rest = all.subarray(want)
      pending = rest.byteLength ? [rest] : []
      pendingBytes = rest.byteLength
    }
  }
  if (pendingBytes > 0) yield pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes)
}

async function* mapParts(parts: AsyncIterable<Buffer>): AsyncGenerator<{ body: Uint8Array; length: number }> {
  for await (const p of parts) yield { body: p, length: p.byteLength }
}

function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
}

function isNotFound(e: unknown): boolean {
  const name = (e as { name?: string }).name
  return name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket' || httpStatus(e) === 404
}
