/**
 * @module WADO-RS (PS3.18 10.4): instances, metadata, bulk data, frames, rendered and thumbnails.
 *
 * Originals are streamed from the object store byte for byte; metadata is the JSON stored at
 * ingest with BulkDataURIs made absolute; frames and bulk data are byte ranges of the original,
 * so nothing is decoded unless a rendered image is asked for.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { frameRanges, getNumber, getNumbers, getString, readDicom, toExplicitVrLittleEndian, type ParsedDicom } from '@kura/dicom'
import { listInstances, studyVersion, type InstanceRow } from '@kura/storage'
import { BufferSource, type ByteSource } from '@kura/core'
import type { Archive } from '../archive/archive.ts'
import { BULK_PREFIX } from '../archive/describe.ts'
import { negotiate, parseAccept, type Chosen, type Offer } from './http/accept.ts'
import { multipartRelated } from './http/multipart-writer.ts'
import { parseViewportParam, parseWindowParam, renderFrame } from './http/render.ts'
import { instanceUrl, serviceBase } from './base-url.ts'
import { DicomwebErrors } from './errors.ts'
import { ResponseCache } from './response-cache.ts'
import { EXPLICIT_VR_LITTLE_ENDIAN, frameMediaType, isEncapsulated } from './media-types.ts'

type Params = { study: string; series?: string; sop?: string; frames?: string; '*'?: string }
type Req = FastifyRequest<{ Params: Params; Querystring: Record<string, string | undefined> }>

/** Negotiates against the Accept header and the `accept` query parameter (PS3.18 8.3.3.1). */
function choose(req: Req, offers: Offer[]): Chosen | null {
  return negotiate(req.headers.accept, offers, req.query.accept)
}

const acceptText = (req: Req) => [req.query.accept, req.headers.accept].filter(Boolean).join(', ')

/**
 * The transfer syntaxes a client named for application/dicom (PS3.18 8.7.3.5.2): '*' for any,
 * or none at all, when the default (Explicit VR Little Endian) applies.
 */
function requestedTransferSyntaxes(req: Req): Set<string> {
  const out = new Set<string>()
  for (const header of [req.headers.accept, req.query.accept]) {
    if (!header) continue
    for (const r of parseAccept(header)) {
      if (r.q === 0) continue
      const ts = r.params['transfer-syntax']
      if (ts) out.add(ts)
    }
  }
  return out
}

async function instancesOf(archive: Archive, p: Params): Promise<InstanceRow[]> {
  const rows = await listInstances(archive.catalog.db, { studyInstanceUid: p.study, seriesInstanceUid: p.series, sopInstanceUid: p.sop })
  if (rows.length === 0) {
    throw DicomwebErrors.notFound(p.sop ? `Instance ${p.sop}` : p.series ? `Series ${p.series}` : `Study ${p.study}`)
  }
  return rows
}

/**
 * Parses the stored original's header (pixel data left in place) for frame and bulk access.
 * `data` is where element offsets point: the object itself, or for a deflated object the
 * inflated dataset the reader kept.
 */
async function openParsed(archive: Archive, row: InstanceRow): Promise<{ src: ByteSource; data: ByteSource; parsed: ParsedDicom }> {
  const src = await archive.instanceSource(row)
  try {
    const parsed = await readDicom(src, { bulkDataThreshold: 256 })
    return { src, parsed, data: parsed.deflated && parsed.inflated ? new BufferSource(parsed.inflated) : src }
  } catch (e) {
    await src.close()
    throw e
  }
}

function parseFrameList(raw: string): number[] {
  const frames = raw.split(',').map((s) => Number(s.trim()))
  if (frames.length === 0 || frames.some((n) => !Number.isInteger(n) || n < 1)) throw DicomwebErrors.badFrameList(raw)
  return frames
}

async function readFrame(src: ByteSource, ranges: { offset: number; length: number }[]): Promise<Uint8Array> {
  if (ranges.length === 1) return src.read(ranges[0]!.offset, ranges[0]!.length)
  const parts = await Promise.all(ranges.map((r) => src.read(r.offset, r.length)))
  return Buffer.concat(parts)
}

export async function wadoRoutes(app: FastifyInstance, opts: { archive: Archive; publicUrl?: string }) {
  const { archive } = opts

  // --- Instances (multipart/related; type="application/dicom") ---
  const retrieve = async (req: Req, reply: FastifyReply) => {
    const rows = await instancesOf(archive, req.params)
    const stored = [...new Set(rows.map((r) => r.transferSyntaxUid))]
    const chosen = choose(req, [{ mediaType: 'multipart/related', type: 'application/dicom', transferSyntaxes: stored }])
    if (!chosen) throw DicomwebErrors.notAcceptable('instances', acceptText(req))
    const requested = requestedTransferSyntaxes(req)
    // Per instance: the stored syntax when the client takes it (or named none and it is not
    // natively transcodable), else Explicit VR Little Endian when that is asked for (named or by
    // default) and the stored pixel data is native. Compressed originals are never decoded.
    const plan = rows.map((row) => {
      const ts = row.transferSyntaxUid
      if (requested.has('*') || requested.has(ts)) return { row, transcode: false }
      const wantsDefault = requested.size === 0 || requested.has(EXPLICIT_VR_LITTLE_ENDIAN)
      if (wantsDefault && !isEncapsulated(ts)) return { row, transcode: ts !== EXPLICIT_VR_LITTLE_ENDIAN }
      if (requested.size === 0) return { row, transcode: false } // lenient: see docs/dicomweb-conformance.md
      throw DicomwebErrors.notAcceptable(`an instance stored as ${ts} (compressed originals are not transcoded)`, acceptText(req))
    })
    async function* parts() {
      for (const { row, transcode } of plan) {
        if (!transcode) {
          yield { contentType: `application/dicom; transfer-syntax=${row.transferSyntaxUid}`, body: await archive.instanceStream(row) }
          continue
        }
        const { src, parsed } = await openParsed(archive, row)
        yield {
          contentType: `application/dicom; transfer-syntax=${EXPLICIT_VR_LITTLE_ENDIAN}`,
          body: (async function* () {
            try {
              yield* toExplicitVrLittleEndian(parsed, src)
            } finally {
              await src.close()
            }
          })(),
        }
      }
    }
    const { contentType, stream } = multipartRelated(parts(), undefined, { type: 'application/dicom' })
    return reply.type(contentType).send(stream)
  }

  // --- Metadata (application/dicom+json) ---
  // Viewers ask for the same series' metadata again and again; the encoded answer is kept per
  // process and reused while the study's version token (one indexed row) is unchanged.
  const metadataCache = new ResponseCache(64 * 1024 * 1024)
  const metadata = async (req: Req, reply: FastifyReply) => {
    const chosen = choose(req, [{ mediaType: 'application/dicom+json' }, { mediaType: 'application/json' }])
    if (!chosen) throw DicomwebErrors.notAcceptable('metadata', acceptText(req))
    const base = serviceBase(req, opts.publicUrl)
    const { study, series, sop } = req.params
    const version = await studyVersion(archive.catalog.db, study)
    const key = version && `${version}|${base}|${series ?? ''}|${sop ?? ''}`
    let body = key ? metadataCache.get(key) : undefined
    if (!body) {
      const rows = await instancesOf(archive, req.params)
      const marker = `"BulkDataURI":"${BULK_PREFIX}`
      let text = '['
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!
        const abs = `"BulkDataURI":"${instanceUrl(base, r.studyInstanceUid, r.seriesInstanceUid, r.sopInstanceUid)}/${BULK_PREFIX}`
        text += (i ? ',' : '') + r.instanceJson.replaceAll(marker, abs)
      }
      // One UTF-8 encode up front: a large string handed to the socket writes measurably slower.
      body = Buffer.from(text + ']')
      if (key) metadataCache.set(key, body)
    }
    return reply.type(`${chosen.mediaType}; charset=utf-8`).send(body)
  }

  // --- Bulk data (PS3.18 10.4.1.1.5) ---
  const bulk = async (req: Req, reply: FastifyReply) => {
    const [row] = await instancesOf(archive, req.params)
    const path = (req.params['*'] ?? '').split('/').filter(Boolean)
    const { src, data, parsed } = await openParsed(archive, row!)
    try {
      let ds = parsed.dataset
      let el
      for (let i = 0; i < path.length; i += 2) {
        el = ds.elements.get(parseInt(path[i]!, 16))
        if (!el) throw DicomwebErrors.notFound(`Bulk data ${path.join('/')}`)
        if (i + 1 < path.length) {
          const item = el.items?.[Number(path[i + 1])]
          if (!item) throw DicomwebErrors.notFound(`Bulk data ${path.join('/')}`)
          ds = item
        }
      }
      if (!el) throw DicomwebErrors.notFound('Bulk data')
      const encapsulatedPixels = !!el.fragments
      const ts = parsed.transferSyntaxUID
      const offerType = encapsulatedPixels ? frameMediaType(ts) : 'application/octet-stream'
      const chosen = choose(req, [
        { mediaType: 'multipart/related', type: offerType, transferSyntaxes: [encapsulatedPixels ? ts : EXPLICIT_VR_LITTLE_ENDIAN] },
        { mediaType: 'application/octet-stream' },
      ])
      if (!chosen || chosen.needsTranscode) throw DicomwebErrors.notAcceptable('bulk data', acceptText(req))
      let payloads: Uint8Array[]
      if (encapsulatedPixels) {
        payloads = []
        for (const ranges of frameRanges(parsed)) payloads.push(await readFrame(data, ranges))
      } else {
        payloads = [el.bytes ?? (await data.read(el.offset, el.length))]
      }
      if (chosen.mediaType === 'application/octet-stream') {
        if (payloads.length !== 1) throw DicomwebErrors.notAcceptable('multi-frame bulk data as a single part', acceptText(req))
        return reply.type('application/octet-stream').send(Buffer.from(payloads[0]!))
      }
      const partType = encapsulatedPixels ? `${offerType}; transfer-syntax=${ts}` : 'application/octet-stream'
      const { contentType, stream } = multipartRelated(
        (async function* () {
          for (const p of payloads) yield { contentType: partType, body: p }
        })(),
        undefined,
        { type: encapsulatedPixels ? offerType : 'application/octet-stream' },
      )
      return reply.type(contentType).send(stream)
    } finally {
      await src.close()
    }
  }

  // --- Frames (PS3.18 10.4.1.1.6) ---
  const frames = async (req: Req, reply: FastifyReply) => {
    const [row] = await instancesOf(archive, req.params)
    const wanted = parseFrameList(req.params.frames ?? '')
    const { src, data, parsed } = await openParsed(archive, row!)
    try {
      const all = frameRanges(parsed)
      if (all.length === 0) throw DicomwebErrors.noPixelData()
      for (const f of wanted) if (f > all.length) throw DicomwebErrors.frameOutOfRange(f, all.length)
      const ts = parsed.transferSyntaxUID
      const encapsulated = isEncapsulated(ts)
      const chosen = choose(req, [
        { mediaType: 'multipart/related', type: frameMediaType(ts), transferSyntaxes: [encapsulated ? ts : EXPLICIT_VR_LITTLE_ENDIAN] },
      ])
      if (!chosen || chosen.needsTranscode) throw DicomwebErrors.notAcceptable(`frames stored as ${ts}`, acceptText(req))
      const bigEndian = !parsed.dataset.littleEndian && !encapsulated
      const bitsAllocated = getNumber(parsed.dataset, 0x00280100) ?? 8
      const payloads: Uint8Array[] = []
      for (const f of wanted) {
        let bytes = await readFrame(data, all[f - 1]!)
        // Native frames are sent as Explicit VR Little Endian: swap big-endian words.
        if (bigEndian && bitsAllocated === 16) bytes = Buffer.from(bytes).swap16()
        payloads.push(bytes)
      }
      const partType = encapsulated ? `${frameMediaType(ts)}; transfer-syntax=${ts}` : 'application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1'
      const { contentType, stream } = multipartRelated(
        (async function* () {
          for (const p of payloads) yield { contentType: partType, body: p }
        })(),
        undefined,
        { type: frameMediaType(ts) },
      )
      return reply.type(contentType).send(stream)
    } finally {
      await src.close()
    }
  }

  // --- Rendered and thumbnail (PS3.18 10.4.1.1.3, 10.4.1.1.4) ---
  const render = (kind: 'rendered' | 'thumbnail') => async (req: Req, reply: FastifyReply) => {
    const rows = await instancesOf(archive, req.params)
    // A study or series renders its middle instance, which is usually the most representative.
    const row = req.params.sop ? rows[0]! : rows[Math.floor(rows.length / 2)]!
    const chosen = choose(req, [{ mediaType: 'image/jpeg' }, { mediaType: 'image/png' }])
    if (!chosen) throw DicomwebErrors.notAcceptable(`${kind} images (JPEG and PNG are offered)`, acceptText(req))
    const frameNo = req.params.frames ? parseFrameList(req.params.frames)[0]! : 1
    const { src, data, parsed } = await openParsed(archive, row)
    try {
      const all = frameRanges(parsed)
      if (all.length === 0) throw DicomwebErrors.noPixelData()
      if (frameNo > all.length) throw DicomwebErrors.frameOutOfRange(frameNo, all.length)
      const ds = parsed.dataset
      const bytes = await readFrame(data, all[frameNo - 1]!)
      const window = req.query.window ? parseWindowParam(req.query.window) : undefined
      const viewport = req.query.viewport ? parseViewportParam(req.query.viewport) : kind === 'thumbnail' ? { width: 128, height: 128 } : undefined
      const quality = req.query.quality ? Number(req.query.quality) : undefined
      const image = await renderFrame(
        { bytes, encapsulated: isEncapsulated(parsed.transferSyntaxUID), transferSyntaxUID: parsed.transferSyntaxUID },
        {
          rows: getNumber(ds, 0x00280010) ?? 0,
          columns: getNumber(ds, 0x00280011) ?? 0,
          samplesPerPixel: getNumber(ds, 0x00280002) ?? 1,
          bitsAllocated: getNumber(ds, 0x00280100) ?? 8,
          bitsStored: getNumber(ds, 0x00280101) ?? getNumber(ds, 0x00280100) ?? 8,
          highBit: getNumber(ds, 0x00280102),
          pixelRepresentation: getNumber(ds, 0x00280103) ?? 0,
          photometricInterpretation: getString(ds, 0x00280004) ?? 'MONOCHROME2',
          planarConfiguration: getNumber(ds, 0x00280006),
          rescaleSlope: getNumber(ds, 0x00281053),
          rescaleIntercept: getNumber(ds, 0x00281052),
          windowCenter: getNumbers(ds, 0x00281050),
          windowWidth: getNumbers(ds, 0x00281051),
          littleEndian: ds.littleEndian,
        },
        { format: chosen.mediaType === 'image/png' ? 'png' : 'jpeg', quality, window, viewport },
      )
      return reply.type(chosen.mediaType).header('cache-control', 'private, max-age=3600').send(Buffer.from(image))
    } finally {
      await src.close()
    }
  }

  // --- Delete (PS3.18 has no delete transaction; this mirrors the common DELETE extension) ---
  const remove = async (req: Req, reply: FastifyReply) => {
    const { study, series, sop } = req.params
    const n = await archive.delete({ studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop })
    if (n === 0) throw DicomwebErrors.notFound(sop ? `Instance ${sop}` : series ? `Series ${series}` : `Study ${study}`)
    return reply.status(204).send()
  }

  const read = { config: { permission: 'study:read' as const } }
  const del = { config: { permission: 'study:delete' as const } }
  const I = '/studies/:study/series/:series/instances/:sop'
  app.get('/studies/:study', read, retrieve)
  app.get('/studies/:study/series/:series', read, retrieve)
  app.get(I, read, retrieve)
  app.get('/studies/:study/metadata', read, metadata)
  app.get('/studies/:study/series/:series/metadata', read, metadata)
  app.get(`${I}/metadata`, read, metadata)
  app.get(`${I}/bulk/*`, read, bulk)
  app.get(`${I}/frames/:frames`, read, frames)
  for (const kind of ['rendered', 'thumbnail'] as const) {
    app.get(`/studies/:study/${kind}`, read, render(kind))
    app.get(`/studies/:study/series/:series/${kind}`, read, render(kind))
    app.get(`${I}/${kind}`, read, render(kind))
    app.get(`${I}/frames/:frames/${kind}`, read, render(kind))
  }
  app.delete('/studies/:study', del, remove)
  app.delete('/studies/:study/series/:series', del, remove)
  app.delete(I, del, remove)
}
