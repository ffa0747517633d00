/**
 * @module STOW-RS (PS3.18 10.5): store instances from a streamed multipart/related body.
 *
 * Parts are read one at a time from the request stream and each goes straight to the archive;
 * up to PIPELINE parts are being indexed while the next ones are received. Status codes follow
 * PS3.18 10.5.3: 200 all stored, 202 some failed, 409 none stored.
 */
import { finished } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { KuraError } from '@kura/core'
import type { Archive, IngestResult } from '../archive/archive.ts'
import { AuthErrors } from '../auth/errors.ts'
import { parseContentType, readParts } from './http/multipart-reader.ts'
import { instanceUrl, serviceBase, studyUrl } from './base-url.ts'
import { DicomwebErrors } from './errors.ts'

const PIPELINE = 16

/** Failure Reason values (PS3.18 Table 10.5.3-2 / PS3.4 Annex B). */
export const FailureReason = {
  processingFailure: 0x0110,
  duplicateSopInstance: 0x0111,
  sopClassNotSupported: 0x0122,
  outOfResources: 0xa700,
  dataSetDoesNotMatch: 0xa900,
  cannotUnderstand: 0xc000,
} as const

interface Outcome {
  result: IngestResult
  failureReason?: number
}

function reasonFor(r: IngestResult): number | undefined {
  if (!('code' in r)) return undefined
  if (r.status === 'conflict') return FailureReason.duplicateSopInstance
  if (r.code.startsWith('ARCHIVE_MISSING') || r.code === 'ARCHIVE_INVALID_UID' || r.code === 'ARCHIVE_STUDY_MISMATCH') return FailureReason.dataSetDoesNotMatch
  if (r.code === 'ARCHIVE_INTERNAL') return FailureReason.processingFailure
  return FailureReason.cannotUnderstand
}

export async function stowRoutes(app: FastifyInstance, opts: { archive: Archive; publicUrl?: string }) {
  // The body stays a stream: this parser hands it over untouched and Fastify's bodyLimit never applies.
  app.addContentTypeParser('multipart/related', (_req, payload, done) => done(null, payload))
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload))

  const handler = async (req: FastifyRequest<{ Params: { study?: string }; Querystring: { collection?: string } }>, reply: FastifyReply) => {
    const ct = parseContentType(req.headers['content-type'] ?? '')
    if (ct.type !== 'multipart/related') throw DicomwebErrors.unsupportedMediaType(req.headers['content-type'] ?? '(none)')
    if (ct.relatedType && ct.relatedType !== 'application/dicom') throw DicomwebErrors.unsupportedMediaType(`multipart/related; type="${ct.relatedType}"`)
    const collection = req.query.collection ?? 'default'
    req.audit.collection = collection
    if (!req.access.can('study:write', collection)) throw AuthErrors.forbidden(`study:write permission on collection "${collection.slice(0, 64)}"`)
    const site = req.access.siteBound('study:write', collection) ?? undefined
    const targetStudy = req.params.study
    const body = req.body as Readable
    const outcomes: Promise<Outcome>[] = []
    const inFlight = new Set<Promise<Outcome>>()

    let streamError: unknown
    try {
      for await (const part of readParts(body, ct.boundary)) {
        const partType = (part.headers['content-type'] ?? 'application/dicom').split(';')[0]!.trim().toLowerCase()
        let p: Promise<Outcome>
        if (partType !== 'application/dicom') {
          part.body.resume()
          await finished(part.body)
          p = Promise.resolve({ result: { status: 'rejected', code: 'DICOMWEB_PART_TYPE', reason: `A part of type ${partType} was skipped: this service stores application/dicom parts only.` }, failureReason: FailureReason.sopClassNotSupported })
        } else {
          const ingest = opts.archive.ingest({ source: part.body, collection, studyInstanceUid: targetStudy, site })
          p = ingest.then((result) => ({ result, failureReason: reasonFor(result) }))
          // The next part may only be read once this part's bytes have all been received.
          await Promise.race([finished(part.body).catch(() => {}), ingest])
        }
        outcomes.push(p)
        inFlight.add(p)
        void p.finally(() => inFlight.delete(p))
        if (inFlight.size >= PIPELINE) await Promise.race(inFlight)
      }
    } catch (e) {
      streamError = e
    }
    const results = await Promise.all(outcomes)
    if (streamError) {
      // A broken body (bad boundary, truncated, client gone): what was complete is kept and reported.
      // (req.raw.destroyed is true after any fully read body; only a dead socket means the client left.)
      if (req.raw.socket?.destroyed !== false) {
        req.log.warn({ stored: results.length }, 'STOW client disconnected mid-stream')
        return reply.hijack()
      }
      if (results.length === 0) throw streamError
      const err = streamError instanceof KuraError ? streamError : DicomwebErrors.multipartBroken()
      // The part that was cut short already reports this error; add it only if no part did.
      if (!results.some(({ result }) => 'code' in result && result.code === err.code)) results.push({ result: { status: 'rejected', code: err.code, reason: err.message }, failureReason: FailureReason.cannotUnderstand })
    }
    if (results.length === 0) throw DicomwebErrors.noParts()

    const base = serviceBase(req, opts.publicUrl)
    const referenced: object[] = []
    const failed: object[] = []
    const studies = new Set<string>()
    for (const { result, failureReason } of results) {
      if (failureReason === undefined && (result.status === 'stored' || result.status === 'duplicate')) {
        studies.add(result.studyInstanceUid)
        referenced.push({
          '00081150': { vr: 'UI', Value: [result.sopClassUid] },
          '00081155': { vr: 'UI', Value: [result.sopInstanceUid] },
          '00081190': { vr: 'UR', Value: [instanceUrl(base, result.studyInstanceUid, result.seriesInstanceUid, result.sopInstanceUid)] },
        })
      } else {
        const item: Record<string, object> = { '00081197': { vr: 'US', Value: [failureReason ?? FailureReason.processingFailure] } }
        if (result.sopClassUid) item['00081150'] = { vr: 'UI', Value: [result.sopClassUid] }
        if (result.sopInstanceUid) item['00081155'] = { vr: 'UI', Value: [result.sopInstanceUid] }
        // ErrorComment (LO, 64 chars) carries our stable error code; the code names the reason exactly.
        if ('code' in result) item['00000902'] = { vr: 'LO', Value: [result.code.slice(0, 64)] }
        failed.push(item)
      }
    }
    const response: Record<string, object> = {}
    const retrieveStudy = targetStudy ?? (studies.size === 1 ? [...studies][0] : undefined)
    if (retrieveStudy && referenced.length > 0) response['00081190'] = { vr: 'UR', Value: [studyUrl(base, retrieveStudy)] }
    if (failed.length > 0) response['00081198'] = { vr: 'SQ', Value: failed }
    if (referenced.length > 0) response['00081199'] = { vr: 'SQ', Value: referenced }
    const status = failed.length === 0 ? 200 : referenced.length === 0 ? 409 : 202
    return reply.status(status).type('application/dicom+json').send(JSON.stringify(response))
  }

  const route = { config: { permission: 'study:write' as const } }
  app.post('/studies', route, handler)
  app.post('/studies/:study', route, handler)
}
