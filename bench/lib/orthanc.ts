/**
 * @module Starts an Orthanc server (the anchor the benchmarks compare Kura with) on loopback, with
 * a throw-away temp directory, a generated configuration and the DICOMweb plugin; optionally its
 * index in a fresh PostgreSQL database (Debian package `orthanc-postgresql`).
 *
 * Orthanc keeps its own defaults otherwise (SyncStorageArea, StorageAccessOnFind, 50 HTTP
 * threads, one PostgreSQL index connection...): the point is to compare with Orthanc as shipped.
 * `extraConfig` is merged over the generated configuration for experiments.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  createDatabase, dropDatabase, freePort, loud, pgUrlFor, randomDbName, sleep, tailFile, waitForHttp,
} from './util.ts'

export const ORTHANC_BIN = process.env.KURA_BENCH_ORTHANC ?? '/usr/sbin/Orthanc'
export const ORTHANC_PLUGIN_DIR = process.env.KURA_BENCH_ORTHANC_PLUGINS ?? '/usr/share/orthanc/plugins'
export const DICOMWEB_PLUGIN = path.join(ORTHANC_PLUGIN_DIR, 'libOrthancDicomWeb.so')
export const PG_INDEX_PLUGIN = path.join(ORTHANC_PLUGIN_DIR, 'libOrthancPostgreSQLIndex.so')

export type Backend = 'sqlite' | 'postgres'

export interface OrthancOptions {
  backend?: Backend
  /** Keep the data in this directory (created if missing) and do not delete it on stop. */
  dataDir?: string
  /** PostgreSQL database for the index (created if missing); default a fresh one dropped on stop. */
  database?: string
  /** Keep the database on stop (with `database`). */
  keep?: boolean
  extraConfig?: Record<string, unknown>
  /** Load the DICOMweb plugin (default true); C-STORE benchmarks need only the core. */
  dicomweb?: boolean
  /** Milliseconds to wait for `GET /system` (default 60 s). */
  startTimeoutMs?: number
}

export interface OrthancServer {
  name: 'orthanc'
  backend: Backend
  url: string
  dicomwebUrl: string
  /** Orthanc runs without authentication here: no headers. */
  headers: Record<string, string>
  pid: number
  dir: string
  log: string
  database?: string
  stop(): Promise<void>
}

/** Why Orthanc (or a needed plugin) cannot run here, with how to install it; null when it can. */
export function orthancMissing(backend: Backend = 'sqlite', dicomweb = true): string | null {
  if (!existsSync(ORTHANC_BIN)) {
    return `Orthanc not found at ${ORTHANC_BIN}: install it with\n  apt-get install orthanc orthanc-dicomweb\n(or set KURA_BENCH_ORTHANC to the binary).`
  }
  if (dicomweb && !existsSync(DICOMWEB_PLUGIN)) {
    return `Orthanc DICOMweb plugin not found at ${DICOMWEB_PLUGIN}: install it with\n  apt-get install orthanc-dicomweb`
  }
  if (backend === 'postgres' && !existsSync(PG_INDEX_PLUGIN)) {
    return `Orthanc PostgreSQL index plugin not found at ${PG_INDEX_PLUGIN}: install it with\n  apt-get install orthanc-postgresql`
  }
  return null
}

/**
 * Starts Orthanc, or returns null (after a loud message) when the binary or a plugin is missing.
 * Throws when it is installed but does not start.
 */
export async function startOrthanc(opts: OrthancOptions = {}): Promise<OrthancServer | null> {
  const backend = opts.backend ?? 'sqlite'
  const dicomweb = opts.dicomweb ?? true
  const missing = orthancMissing(backend, dicomweb)
  if (missing) {
    loud(`SKIPPING the Orthanc side (${backend}).\n${missing}`)
    return null
  }
  const port = await freePort()
  const dir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'kura-bench-orthanc-'))
  mkdirSync(dir, { recursive: true })
  const ownDir = !opts.dataDir
  let database: string | undefined
  let ownDb = false
  if (backend === 'postgres') {
    database = opts.database ?? randomDbName('kura_bench_orthanc')
    ownDb = !opts.keep
    await createDatabase(database, true)
  }
  const plugins = dicomweb ? [DICOMWEB_PLUGIN] : []
  const config: Record<string, unknown> = {
    Name: 'KuraBenchOrthanc',
    HttpPort: port,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomServerEnabled: false,
    // Also give a random port in case DicomServerEnabled is ignored by an old Orthanc.
    DicomPort: await freePort(),
    StorageDirectory: path.join(dir, 'storage'),
    IndexDirectory: path.join(dir, 'index'),
    TemporaryDirectory: path.join(dir, 'tmp'),
    OrthancExplorerEnabled: false,
    WebDavEnabled: false,
    SaveJobs: false,
    Plugins: plugins,
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true },
  }
  if (backend === 'postgres') {
    plugins.push(PG_INDEX_PLUGIN)
    const u = new URL(pgUrlFor(database!))
    config.PostgreSQL = {
      EnableIndex: true,
      EnableStorage: false,
      Host: u.hostname,
      Port: Number(u.port || 5432),
      Database: database,
      Username: decodeURIComponent(u.username || 'postgres'),
      Password: decodeURIComponent(u.password || ''),
      Lock: false,
      EnableSsl: false,
    }
  }
  for (const [k, v] of Object.entries(opts.extraConfig ?? {})) {
    const cur = config[k]
    config[k] = cur && typeof cur === 'object' && !Array.isArray(cur) && v && typeof v === 'object' && !Array.isArray(v) ? { ...cur, ...v } : v
  }
  for (const d of ['storage', 'index', 'tmp']) mkdirSync(path.join(dir, d), { recursive: true })
  const configFile = path.join(dir, 'orthanc.json')
  writeFileSync(configFile, JSON.stringify(config, null, 2))
  const log = path.join(dir, 'orthanc.log')
  const fd = openSync(log, 'a')
  const child: ChildProcess = spawn(ORTHANC_BIN, [configFile], { cwd: dir, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  let exited = false
  child.on('exit', () => { exited = true })
  const url = `http://127.0.0.1:${port}`
  const cleanup = async () => {
    if (ownDir) rmSync(dir, { recursive: true, force: true })
    if (ownDb && database) await dropDatabase(database).catch((e) => console.error(`could not drop ${database}: ${e.message}`))
  }
  try {
    await waitForHttp(`${url}/system`, opts.startTimeoutMs ?? 60_000, () => !exited)
  } catch (e) {
    const tail = tailFile(log)
    if (!exited) child.kill('SIGKILL')
    await cleanup()
    throw new Error(`Orthanc (${backend}) did not start: ${(e as Error).message}\n--- orthanc.log ---\n${tail}`)
  }
  return {
    name: 'orthanc',
    backend,
    url,
    dicomwebUrl: `${url}/dicom-web`,
    headers: {},
    pid: child.pid!,
    dir,
    log,
    database,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM')
        for (let i = 0; i < 100 && !exited; i++) await sleep(100)
        if (!exited) child.kill('SIGKILL')
        for (let i = 0; i < 20 && !exited; i++) await sleep(50)
      }
      await cleanup()
    },
  }
}

/** Orthanc's own instance count (`GET /statistics`). */
export async function orthancInstanceCount(url: string): Promise<number> {
  const res = await fetch(`${url}/statistics`)
  const j = (await res.json()) as { CountInstances: number }
  return j.CountInstances
}
