/**
 * @module One interface over both servers a benchmark compares, plus the QIDO helpers they share.
 * A side that cannot start is skipped with a loud message (the other side's figures still print).
 */
import { startKura, type KuraOptions } from './kura.ts'
import { orthancInstanceCount, startOrthanc, type OrthancOptions } from './orthanc.ts'
import { getJson, loud, onInterrupt, postgresAvailable } from './util.ts'

export type ServerKind = 'orthanc' | 'kura'
export type Backend = 'sqlite' | 'postgres'

export interface Server {
  name: ServerKind
  backend: Backend
  url: string
  dicomwebUrl: string
  /** Sent with every request: Kura's `authorization: Bearer kura_…` (admin token), none for Orthanc. */
  headers: Record<string, string>
  pid: number
  log: string
  database?: string
  databaseUrl?: string
  stop(): Promise<void>
}

export interface StartOptions {
  orthanc?: OrthancOptions
  kura?: KuraOptions
}

/** Starts one side; null (after a loud message) when it cannot run here. */
export async function startServer(kind: ServerKind, backend: Backend, opts: StartOptions = {}): Promise<Server | null> {
  if (backend === 'postgres') {
    const why = await postgresAvailable()
    if (why) {
      loud(`SKIPPING ${kind} on PostgreSQL: cannot reach ${process.env.KURA_BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test'} (${why}).`)
      return null
    }
  }
  try {
    const s: Server | null = kind === 'orthanc' ? await startOrthanc({ ...opts.orthanc, backend }) : await startKura({ ...opts.kura, backend })
    if (!s) return null
    const stop = s.stop.bind(s)
    const off = onInterrupt(stop)
    s.stop = async () => {
      off()
      await stop()
    }
    return s
  } catch (e) {
    loud(`SKIPPING the ${kind} side (${backend}): it did not start.\n${(e as Error).message}`)
    return null
  }
}

export const label = (s: { name: ServerKind; backend: Backend }) => `${s.name === 'kura' ? 'Kura' : 'Orthanc'} (${s.backend === 'postgres' ? 'PostgreSQL' : 'SQLite'})`

type DicomJson = Record<string, { vr?: string; Value?: unknown[] }>

/** First value of an attribute (hex tag) in DICOM JSON; PN as its Alphabetic string. */
export function first(ds: DicomJson | undefined, tag: string): string | number | undefined {
  const v = (ds?.[tag.toUpperCase()] ?? ds?.[tag.toLowerCase()])?.Value?.[0]
  if (v && typeof v === 'object' && 'Alphabetic' in (v as object)) return (v as { Alphabetic: string }).Alphabetic
  return v as string | number | undefined
}

/**
 * How many instances a server holds, through QIDO only (works for both): sums
 * NumberOfStudyRelatedInstances over all studies, or pages through `/instances` when a server
 * does not return that attribute. Orthanc's `/statistics` is used for Orthanc when `preferNative`.
 */
export async function countInstances(s: Server, preferNative = true): Promise<{ count: number; how: string }> {
  if (s.name === 'orthanc' && preferNative) return { count: await orthancInstanceCount(s.url), how: 'GET /statistics' }
  const studies = await listAll(s, 'studies', 'includefield=00201208')
  const counts = studies.map((d) => first(d, '00201208'))
  if (studies.length && counts.every((c) => c !== undefined)) {
    return { count: counts.reduce<number>((n, c) => n + Number(c), 0), how: `QIDO /studies NumberOfStudyRelatedInstances (${studies.length} studies)` }
  }
  const inst = await listAll(s, 'instances', 'includefield=00080018')
  return { count: inst.length, how: 'QIDO /instances (paged)' }
}

/** Pages through a QIDO search with limit/offset until a short page. */
export async function listAll(s: Server, level: string, query = '', page = 1000): Promise<DicomJson[]> {
  const out: DicomJson[] = []
  // Continue until an empty page: a server may cap `limit` below what we ask.
  for (let offset = 0; offset < 10_000_000; ) {
    const q = [query, `limit=${page}`, `offset=${offset}`].filter(Boolean).join('&')
    const r = await getJson<DicomJson[] | null>(`${s.dicomwebUrl}/${level}?${q}`, s.headers)
    if (r.status === 204 || !r.json || (Array.isArray(r.json) && r.json.length === 0)) break
    if (r.status !== 200 && r.status !== 206) throw new Error(`QIDO ${level} on ${label(s)}: status ${r.status}`)
    out.push(...r.json)
    offset += r.json.length
  }
  return out
}
