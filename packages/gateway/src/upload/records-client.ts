/**
 * @module The hub side of clinical record delivery: one `POST /api/records?collection=C` carrying a batch of
 * de-identified records as NDJSON (`{"key","record"}` per line, docs/upload-protocol.md), answered per record.
 * Records are small, so there is no tus: a batch that fails as a whole is simply sent again (the hub deduplicates
 * by key). Paced by the same bandwidth cap and using the same errors as the DICOM uploads.
 */
import { UploadErrors } from './errors.ts'
import { http, type HttpResponse } from './http.ts'

export type RecordStatus = 'stored' | 'duplicate' | 'rejected'

export interface RecordResult {
  key: string
  status: RecordStatus
  reason?: string
}

export interface RecordsClientOptions {
  hub: string
  token: () => string
  pace?: (n: number) => Promise<void>
  signal?: AbortSignal
  timeoutMs?: number
}

/** The most items and bytes the protocol allows in one request. */
export const RECORD_BATCH_MAX = 1000
export const RECORD_BATCH_BYTES = 8 * 1024 * 1024

export class RecordsClient {
  private readonly o: RecordsClientOptions
  sentBytes = 0

  constructor(o: RecordsClientOptions) {
    this.o = o
  }

  /** `body` of each item is the record's canonical JSON (its key's preimage), embedded as is. */
  async post(collection: string, items: ReadonlyArray<{ key: string; body: string }>): Promise<RecordResult[]> {
    const ndjson = Buffer.from(items.map((i) => `{"key":${JSON.stringify(i.key)},"record":${i.body}}\n`).join(''), 'utf8')
    const url = `${this.o.hub}/api/records?collection=${encodeURIComponent(collection)}`
    const what = 'Sending clinical records'
    let res: HttpResponse
    try {
      res = await http(url, { method: 'POST', headers: { authorization: `Bearer ${this.o.token()}`, 'content-type': 'application/x-ndjson', accept: 'application/json' }, body: ndjson, pace: this.o.pace, timeoutMs: this.o.timeoutMs, signal: this.o.signal })
    } catch (e) {
      if ((e as { code?: string }).code?.startsWith('GATEWAY_UPLOAD') || this.o.signal?.aborted) throw e
      throw UploadErrors.network(what, e)
    }
    if (res.status === 401 || res.status === 403) throw UploadErrors.auth(res.status, this.o.hub)
    if (res.status === 507) throw UploadErrors.hubFull(this.o.hub)
    if (res.status !== 200) throw UploadErrors.http(what, res.status, res.body.toString('utf8'))
    let doc: { results?: unknown }
    try { doc = JSON.parse(res.body.toString('utf8')) as { results?: unknown } } catch { throw UploadErrors.protocol('the answer to POST /api/records is not JSON') }
    if (!doc || !Array.isArray(doc.results)) throw UploadErrors.protocol('the answer to POST /api/records has no results list')
    const out: RecordResult[] = []
    for (const r of doc.results as Array<Partial<RecordResult>>) {
      if (!r || typeof r.key !== 'string' || !['stored', 'duplicate', 'rejected'].includes(r.status as string)) throw UploadErrors.protocol('a result of POST /api/records has no key or an unknown status')
      out.push({ key: r.key, status: r.status as RecordStatus, ...(typeof r.reason === 'string' ? { reason: r.reason } : {}) })
    }
    this.sentBytes += ndjson.length
    return out
  }
}
