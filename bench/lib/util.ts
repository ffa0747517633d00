/**
 * @module Small helpers shared by the benchmarks: ports, waiting, timing, tables, PostgreSQL
 * databases, and process memory sampling.
 *
 * Benchmarks never gate CI; these helpers favour loud messages over exceptions where a side of a
 * comparison can be skipped.
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import path from 'node:path'

/** A free TCP port on the loopback interface (the kernel picks it; we release it at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** Runs `run(process.argv.slice(2))` when the module is the script node was started with. */
export function runIfMain(metaUrl: string, run: (argv: string[]) => Promise<void>): void {
  const entry = process.argv[1]
  if (!entry) return
  if (path.resolve(entry) !== fileURLToPath(metaUrl)) return
  run(process.argv.slice(2)).then(
    () => process.exit(process.exitCode ?? 0),
    (err) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err)
      process.exit(1)
    },
  )
}

/** Loud banner for a skipped or failed side of a comparison. */
export function loud(msg: string): void {
  const line = '!'.repeat(Math.min(100, Math.max(20, ...msg.split('\n').map((l) => l.length + 4))))
  console.error(`\n${line}\n${msg.split('\n').map((l) => `! ${l}`).join('\n')}\n${line}\n`)
}

/** Plain HTTP GET through a keep-alive agent; returns status, body and elapsed milliseconds. */
export interface HttpResult {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  ms: number
}

export const keepAliveAgent = new http.Agent({ keepAlive: true, maxSockets: 64 })

export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string | number>; body?: Buffer | string; agent?: http.Agent; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs()
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? keepAliveAgent },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: nowMs() - t0 }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    if (opts.timeoutMs) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`timeout after ${opts.timeoutMs} ms: ${url}`)))
    req.end(opts.body)
  })
}

/** GET with the server's request headers (`Server.headers`: Kura's bearer token, none for Orthanc). */
export async function getJson<T = unknown>(url: string, headers: Record<string, string> = {}, accept = 'application/dicom+json'): Promise<{ status: number; json: T; ms: number }> {
  const r = await httpRequest(url, { headers: { ...headers, Accept: accept } })
  const text = r.body.toString('utf8')
  let json: T
  try {
    json = (text.length ? JSON.parse(text) : null) as T
  } catch {
    throw new Error(`GET ${url}: status ${r.status}, body is not JSON: ${text.slice(0, 300)}`)
  }
  return { status: r.status, json, ms: r.ms }
}

/** Polls `url` until it answers 200, the process exits, or the timeout passes. */
export async function waitForHttp(url: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`process exited before ${url} answered (${last || 'no answer'})`)
    try {
      const r = await httpRequest(url, { timeoutMs: 2000, agent: new http.Agent({ keepAlive: false }) })
      if (r.status === 200) return
      last = `status ${r.status}: ${r.body.toString('utf8').slice(0, 200)}`
    } catch (e) {
      last = (e as Error).message
    }
    await sleep(100)
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${last})`)
}

/** Value at quantile q (0..1) of an ascending array (nearest-rank). */
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i]
}

export function fmt(n: number | undefined | null, digits = 1): string {
  if (n === undefined || n === null || Number.isNaN(n)) return '—'
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function ratio(a: number | undefined, b: number | undefined, digits = 2): string {
  if (!a || !b || Number.isNaN(a) || Number.isNaN(b)) return '—'
  return `${(a / b).toFixed(digits)}×`
}

/** Prints an aligned text table; the first row is the header. Numbers-looking cells are right-aligned. */
export function printTable(rows: string[][], title?: string): void {
  if (title) console.log(`\n${title}`)
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)))
  const isNum = (s: string) => /^[-+]?[\d,.]+(×| ms| MB)?$|^—$/.test(s)
  rows.forEach((r, i) => {
    console.log(r.map((cell, c) => (i > 0 && isNum(cell ?? '') ? (cell ?? '').padStart(widths[c]) : (cell ?? '').padEnd(widths[c]))).join('  '))
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  })
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: fresh databases for one run (trust auth on 127.0.0.1 in the dev environment).

export const PG_ADMIN_URL = process.env.KURA_BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export function pgUrlFor(db: string): string {
  const u = new URL(PG_ADMIN_URL)
  u.pathname = `/${db}`
  return u.toString()
}

async function pgClient(url = PG_ADMIN_URL) {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return client
}

/** Runs one SQL statement (or several, no parameters) against `url`; returns the rows of the last. */
export async function pgQuery<T = Record<string, unknown>>(sql: string, url = PG_ADMIN_URL, params?: unknown[]): Promise<T[]> {
  const c = await pgClient(url)
  try {
    const r = await c.query(sql, params as never)
    const last = Array.isArray(r) ? r[r.length - 1] : r
    return (last?.rows ?? []) as T[]
  } finally {
    await c.end()
  }
}

export function randomDbName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`
}

export async function createDatabase(name: string, ifMissing = false): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad database name ${name}`)
  if (ifMissing) {
    const rows = await pgQuery(`SELECT 1 FROM pg_database WHERE datname = $1`, PG_ADMIN_URL, [name])
    if (rows.length) return
  }
  await pgQuery(`CREATE DATABASE ${name}`)
}

export async function dropDatabase(name: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad database name ${name}`)
  await pgQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
}

export async function postgresAvailable(): Promise<string | null> {
  try {
    await pgQuery('SELECT 1')
    return null
  } catch (e) {
    return (e as Error).message
  }
}

// ---------------------------------------------------------------------------------------------
// Memory sampling from /proc.

export interface RssSampler {
  /** Stops sampling and returns the figures (bytes). */
  stop(): RssStats
  /** The latest sample (bytes). */
  current(): number
}

export interface RssStats {
  first: number
  min: number
  max: number
  last: number
  /** Highest VmHWM seen (the kernel's own peak, catches spikes between samples). */
  hwm: number
  samples: number
  series: Array<{ t: number; rss: number }>
}

function readStatusKb(pid: number, key: string): number {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8')
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(s)
    return m ? Number(m[1]) * 1024 : NaN
  } catch {
    return NaN
  }
}

export function readRss(pid: number): number {
  return readStatusKb(pid, 'VmRSS')
}

export function readHwm(pid: number): number {
  return readStatusKb(pid, 'VmHWM')
}

/** Samples VmRSS of `pid` every `intervalMs` (default 100 ms) until stopped. */
export function sampleRss(pid: number, intervalMs = 100): RssSampler {
  const t0 = Date.now()
  const series: Array<{ t: number; rss: number }> = []
  let hwm = 0
  const take = () => {
    const rss = readRss(pid)
    if (!Number.isNaN(rss)) series.push({ t: Date.now() - t0, rss })
    const h = readHwm(pid)
    if (!Number.isNaN(h)) hwm = Math.max(hwm, h)
  }
  take()
  const timer = setInterval(take, intervalMs)
  timer.unref()
  return {
    current: () => series[series.length - 1]?.rss ?? NaN,
    stop() {
      clearInterval(timer)
      take()
      const v = series.map((s) => s.rss)
      return {
        first: v[0] ?? NaN,
        min: v.length ? Math.min(...v) : NaN,
        max: v.length ? Math.max(...v) : NaN,
        last: v[v.length - 1] ?? NaN,
        hwm,
        samples: v.length,
        series,
      }
    },
  }
}

export const MB = 1024 * 1024
export const mb = (bytes: number) => bytes / MB

/** Tail of a log file, for error messages. */
export function tailFile(file: string, lines = 30): string {
  try {
    const s = readFileSync(file, 'utf8').split('\n')
    return s.slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

// ---------------------------------------------------------------------------------------------
// Command-line flags.

export interface FlagSpec {
  type: 'string' | 'boolean'
  default?: string | boolean
  help: string
  short?: string
}

/**
 * Parses `--name value` flags (node:util parseArgs, strict); prints usage and returns null on
 * `--help`. Numbers stay strings: use `num()`.
 */
export async function parseFlags(argv: string[], usage: string, spec: Record<string, FlagSpec>): Promise<Record<string, string | boolean> | null> {
  const { parseArgs } = await import('node:util')
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; default?: string | boolean }> = { help: { type: 'boolean', short: 'h' } }
  for (const [k, s] of Object.entries(spec)) options[k] = { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.default !== undefined ? { default: s.default } : {}) }
  let values: Record<string, string | boolean>
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean>
  } catch (e) {
    console.error(`${(e as Error).message}\n`)
    printUsage(usage, spec)
    process.exitCode = 2
    return null
  }
  if (values.help) {
    printUsage(usage, spec)
    return null
  }
  return values
}

function printUsage(usage: string, spec: Record<string, FlagSpec>): void {
  console.log(usage.trim() + '\n\nOptions:')
  const w = Math.max(...Object.entries(spec).map(([k, s]) => k.length + (s.type === 'string' ? 6 : 0))) + 4
  for (const [k, s] of Object.entries(spec)) {
    const name = `--${k}${s.type === 'string' ? ' <v>' : ''}`
    const def = s.default !== undefined && s.default !== false ? ` (default ${s.default})` : ''
    console.log(`  ${name.padEnd(w)} ${s.help}${def}`)
  }
  console.log(`  ${'--help'.padEnd(w)} this text`)
}

export function num(v: string | boolean | undefined, name: string): number {
  const n = Number(v)
  if (typeof v !== 'string' || !Number.isFinite(n)) throw new Error(`--${name} must be a number (got ${v})`)
  return n
}

export function backendsOf(v: string | boolean | undefined): Array<'sqlite' | 'postgres'> {
  if (v === 'both') return ['sqlite', 'postgres']
  if (v === 'sqlite' || v === 'postgres') return [v]
  throw new Error(`--backend must be sqlite, postgres or both (got ${v})`)
}

/** One line about the machine; warns when other work is loading it (figures get noisy). */
export async function machineLine(): Promise<string> {
  const os = await import('node:os')
  const cores = os.cpus().length
  const load = os.loadavg()[0]
  const line = `machine: ${cores} cores (${os.cpus()[0]?.model ?? '?'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, load average ${load.toFixed(2)}, node ${process.version}`
  if (load > cores * 0.75) loud(`The machine is busy (load average ${load.toFixed(2)} on ${cores} cores): figures will be noisy.\nCompare the ratio within one run rather than absolute numbers across runs.`)
  return line
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks at
 * 100 Hz, the Linux default). Less sensitive to a busy machine than wall-clock time.
 */
export function readCpuSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return NaN
  }
}

// ---------------------------------------------------------------------------------------------
// Cleanup on Ctrl-C: servers started by a benchmark are stopped (temp dirs and databases removed).

const cleanups = new Set<() => Promise<void>>()
let handlersInstalled = false

/** Registers a cleanup run on SIGINT/SIGTERM; returns a function that unregisters it. */
export function onInterrupt(fn: () => Promise<void>): () => void {
  cleanups.add(fn)
  if (!handlersInstalled) {
    handlersInstalled = true
    const handler = (signal: NodeJS.Signals) => {
      console.error(`\n${signal}: stopping servers and removing temporary data…`)
      Promise.allSettled([...cleanups].map((f) => f())).then(() => process.exit(130))
    }
    process.once('SIGINT', handler)
    process.once('SIGTERM', handler)
  }
  return () => cleanups.delete(fn)
}

/** "min–max" of measurements (one value as itself, none as a dash). */
export const range = (xs: number[]): string => (xs.length === 0 ? '—' : xs.length === 1 ? fmt(xs[0]!) : `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`)

/** The upper median (the middle value, or the higher of the middle two); undefined for none. */
export const median = (xs: number[]): number | undefined => {
  const v = [...xs].sort((a, b) => a - b)
  return v.length ? v[Math.floor(v.length / 2)] : undefined
}
