/**
 * @module Sending DICOM objects to a hub, shared by `kura import` and `kura demo`: straight
 * into the archive (same machine, same data folder) or over STOW-RS, with bounded
 * concurrency and one outcome shape for both.
 */
import { createReadStream } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { KuraError, type HubConfig } from '@kura/core'

/** One object to send: a file on disk or bytes in memory. */
export interface Item {
  /** What to call it in the summary: the file path, or the synthetic path. */
  label: string
  collection: string
  size: number
  path?: string
  bytes?: Uint8Array
  /** Known up front for in-memory items; lets STOW results be matched to items without parsing. */
  sopInstanceUid?: string
}

/** `accepted`: STOW reported it stored, which for an idempotent hub may also mean "already there". */
export type OutcomeStatus = 'stored' | 'duplicate' | 'accepted' | 'conflict' | 'rejected'

export interface Outcome {
  item: Item
  status: OutcomeStatus
  code?: string
  reason?: string
  sopInstanceUid?: string
  studyInstanceUid?: string
}

export interface Sink {
  /** Items per send: 1 for the local archive, one STOW request's worth over HTTP. */
  readonly batchSize: number
  /** Sends items of one collection. */
  send(batch: Item[]): Promise<Outcome[]>
  close(): Promise<void>
}

function itemStream(item: Item): Readable {
  return item.bytes ? Readable.from([item.bytes]) : createReadStream(item.path!)
}

/** The archive in this process, on the hub's data folder and backends (what `kura hub` serves). */
export async function localSink(config: HubConfig): Promise<Sink> {
  const { openArchive } = await import('@kura/hub')
  const archive = await openArchive(config)
  return {
    batchSize: 1,
    async send(batch) {
      const out: Outcome[] = []
      for (const item of batch) {
        // An unreadable or vanished file surfaces as a stream error, which ingest reports as rejected.
        const r = await archive.ingest({ source: item.bytes ?? createReadStream(item.path!), collection: item.collection })
        if ('code' in r) out.push({ item, status: r.status, code: r.code, reason: r.reason, sopInstanceUid: r.sopInstanceUid })
        else out.push({ item, status: r.status, sopInstanceUid: r.sopInstanceUid, studyInstanceUid: r.studyInstanceUid })
      }
      return out
    },
    close: () => archive.close(),
  }
}

/** Failure Reason values (PS3.18 Table 10.5.3-2) in words for the summary. */
const FAILURE_REASONS: Record<number, string> = {
  0x0110: 'processing failure',
  0x0111: 'duplicate SOP Instance UID with different content',
  0x0122: 'SOP class not supported',
  0xa700: 'out of resources',
  0xa900: 'data set does not match SOP class',
  0xc000: 'cannot understand',
}

type DicomJson = Record<string, { vr?: string; Value?: unknown[] }>

const valueOf = (item: DicomJson, tag: string): unknown => item[tag]?.Value?.[0]

export interface StowOptions {
  batchSize?: number
  /** Bearer token (KURA_TOKEN) for hubs that enforce access control. */
  token?: string
  /** Finds a file's SOP Instance UID, to match STOW failures to files; called only when a batch had failures. */
  sopInstanceUidOf?: (item: Item) => Promise<string | undefined>
  fetchImpl?: typeof fetch
}

/** A hub over STOW-RS: `POST {url}/dicomweb/studies?collection=…`, multipart/related; type="application/dicom". */
export function stowSink(baseUrl: string, opts: StowOptions = {}): Sink {
  const doFetch = opts.fetchImpl ?? fetch
  const headers = (extra: Record<string, string>): Record<string, string> => (opts.token ? { ...extra, authorization: `Bearer ${opts.token}` } : extra)

  /** SOP Instance UIDs among `uids` the hub already holds, so re-sends count as duplicates, not stores. */
  async function alreadyStored(uids: string[]): Promise<Set<string>> {
    const url = `${baseUrl}/dicomweb/instances?SOPInstanceUID=${encodeURIComponent(uids.join('\\'))}&includefield=00080018&limit=${uids.length}`
    try {
      const res = await doFetch(url, { headers: headers({ accept: 'application/dicom+json' }) })
      if (res.status === 204) return new Set()
      if (!res.ok) return new Set()
      const found = (await res.json()) as DicomJson[]
      return new Set(found.map((f) => String(valueOf(f, '00080018'))))
    } catch {
      return new Set() // best effort: without it, re-sent objects count as accepted
    }
  }

  return {
    batchSize: opts.batchSize ?? 20,
    async send(batch) {
      const collection = batch[0].collection
      const known = batch.every((i) => i.sopInstanceUid) ? await alreadyStored(batch.map((i) => i.sopInstanceUid!)) : new Set<string>()
      const boundary = `kura-${randomBytes(12).toString('hex')}`
      async function* body(): AsyncGenerator<Uint8Array> {
        for (const item of batch) {
          yield Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, 'latin1')
          yield* itemStream(item)
          yield Buffer.from('\r\n', 'latin1')
        }
        yield Buffer.from(`--${boundary}--\r\n`, 'latin1')
      }
      let res: Response
      try {
        res = await doFetch(`${baseUrl}/dicomweb/studies?collection=${encodeURIComponent(collection)}`, {
          method: 'POST',
          headers: headers({ 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' }),
          body: Readable.toWeb(Readable.from(body())) as unknown as RequestInit['body'],
          duplex: 'half',
        } as RequestInit)
      } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause
        throw new KuraError('CLI_HUB_UNREACHABLE', `Could not send to the hub at ${baseUrl} (${cause?.code ?? cause?.message ?? (e as Error).message}). Is "kura hub" running there?`, { status: 502, cause: e })
      }
      const text = await res.text()
      let json: unknown
      try {
        json = text ? JSON.parse(text) : {}
      } catch {
        json = undefined
      }
      const isStowResponse = json && typeof json === 'object' && !Array.isArray(json) && ('00081199' in json || '00081198' in json)
      if (!isStowResponse) {
        // The whole request was refused (bad collection, unsupported media type, server error...).
        const err = (json ?? {}) as { code?: string; message?: string }
        if (res.status === 401 || res.status === 403) {
          throw new KuraError('CLI_HUB_FORBIDDEN', `The hub refused the upload (${res.status}${err.message ? `: ${err.message}` : ''}). Set KURA_TOKEN to a token with study:write.`, { status: res.status })
        }
        const reason = err.message ?? `HTTP ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`
        return batch.map((item) => ({ item, status: 'rejected' as const, code: err.code ?? `HTTP_${res.status}`, reason }))
      }
      const r = json as Record<string, { Value?: DicomJson[] }>
      const referenced = new Map<string, DicomJson>()
      for (const it of r['00081199']?.Value ?? []) referenced.set(String(valueOf(it, '00081155')), it)
      const failedByUid = new Map<string, DicomJson>()
      const failedAnon: DicomJson[] = []
      for (const it of r['00081198']?.Value ?? []) {
        const uid = valueOf(it, '00081155')
        if (typeof uid === 'string') failedByUid.set(uid, it)
        else failedAnon.push(it)
      }
      const needUids = failedByUid.size + failedAnon.length > 0
      const out: Outcome[] = []
      for (const item of batch) {
        const uid = item.sopInstanceUid ?? (needUids && opts.sopInstanceUidOf ? await opts.sopInstanceUidOf(item).catch(() => undefined) : undefined)
        if (uid !== undefined && failedByUid.has(uid)) {
          out.push(failure(item, failedByUid.get(uid)!, uid))
          failedByUid.delete(uid)
        } else if (uid !== undefined && referenced.has(uid)) {
          out.push({ item, status: known.has(uid) ? 'duplicate' : 'accepted', sopInstanceUid: uid })
        } else if (!needUids) {
          // Everything succeeded: each item is one of the referenced instances.
          out.push({ item, status: 'accepted', sopInstanceUid: uid })
        } else if (uid === undefined && failedAnon.length > 0) {
          // The hub could not read a UID from it; failures keep part order, so take the next one.
          out.push(failure(item, failedAnon.shift()!, undefined))
        } else {
          out.push({ item, status: 'rejected', code: 'CLI_STOW_UNMATCHED', reason: 'The hub\'s response does not say what became of this file; check it with QIDO-RS.' })
        }
      }
      return out
    },
    async close() {},
  }
}

function failure(item: Item, it: DicomJson, uid: string | undefined): Outcome {
  const reasonCode = Number(valueOf(it, '00081197'))
  const code = typeof valueOf(it, '00000902') === 'string' ? String(valueOf(it, '00000902')) : `STOW_FAILURE_${reasonCode.toString(16).toUpperCase().padStart(4, '0')}`
  const conflict = reasonCode === 0x0111 || code === 'ARCHIVE_CONFLICT'
  const words = FAILURE_REASONS[reasonCode] ?? `failure reason 0x${reasonCode.toString(16).padStart(4, '0')}`
  return { item, status: conflict ? 'conflict' : 'rejected', code, reason: `${words} (${code})`, sopInstanceUid: uid }
}

export interface IngestSummary {
  files: number
  bytes: number
  counts: Record<OutcomeStatus, number>
  problems: Outcome[]
  studies: Set<string>
  elapsedMs: number
}

/**
 * Sends items through `sink`, `concurrency` sends at a time, in batches of one collection.
 * `onOutcome` sees every outcome as it comes (for progress).
 */
export async function runIngest(items: AsyncIterable<Item> | Iterable<Item>, sink: Sink, opts: { concurrency: number; onOutcome?: (o: Outcome, s: IngestSummary) => void }): Promise<IngestSummary> {
  const started = Date.now()
  const summary: IngestSummary = { files: 0, bytes: 0, counts: { stored: 0, duplicate: 0, accepted: 0, conflict: 0, rejected: 0 }, problems: [], studies: new Set(), elapsedMs: 0 }
  const inFlight = new Set<Promise<void>>()
  let failure: unknown
  const dispatch = async (batch: Item[]) => {
    const outcomes = await sink.send(batch)
    for (const o of outcomes) {
      summary.files++
      summary.bytes += o.item.size
      summary.counts[o.status]++
      if (o.studyInstanceUid) summary.studies.add(o.studyInstanceUid)
      if (o.status === 'conflict' || o.status === 'rejected') summary.problems.push(o)
      opts.onOutcome?.(o, summary)
    }
  }
  const launch = async (batch: Item[]) => {
    const p = dispatch(batch).catch((e) => {
      failure ??= e
    })
    inFlight.add(p)
    void p.finally(() => inFlight.delete(p))
    while (inFlight.size >= opts.concurrency) await Promise.race(inFlight)
  }
  let batch: Item[] = []
  for await (const item of items) {
    if (failure) break
    if (batch.length > 0 && (batch.length >= sink.batchSize || batch[0].collection !== item.collection)) {
      await launch(batch)
      batch = []
    }
    batch.push(item)
  }
  if (batch.length > 0 && !failure) await launch(batch)
  await Promise.all(inFlight)
  summary.elapsedMs = Date.now() - started
  if (failure) throw failure
  return summary
}
