/**
 * @module Starts a Kura hub as a child process, the way an operator would:
 * `node packages/cli/bin/kura.js hub --data <tmp> --port <free> --host 127.0.0.1`, with the
 * catalog in SQLite (under --data) or in a fresh PostgreSQL database (KURA_DATABASE_URL).
 *
 * The child is the server process itself (tsx registers in-process), so its pid is the one to
 * sample for memory.
 *
 * The hub enforces access control, so once it answers, an admin token is made with
 * `kura token create --admin` on the same catalog (as an operator would) and every benchmark
 * request carries it (`headers`). Each such request also writes an audit event: figures include
 * that cost, as in production.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createDatabase, dropDatabase, freePort, pgUrlFor, randomDbName, sleep, tailFile, waitForHttp } from './util.ts'

export { sampleRss, readRss, type RssStats, type RssSampler } from './util.ts'

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const KURA_BIN = process.env.KURA_BENCH_KURA_BIN ?? path.join(REPO_ROOT, 'packages/cli/bin/kura.js')
/**
 * The node flags of `npx kura …` (its `#!/usr/bin/env -S node …` line): a server the bench spawns with
 * `node KURA_BIN …` runs as one started by npx would. KURA_BENCH_NODE_FLAGS replaces them (e.g. '' for none).
 */
export const KURA_NODE_FLAGS: readonly string[] = (process.env.KURA_BENCH_NODE_FLAGS ?? /^#!\S*env -S node((?: --\S+)*)/.exec(readFileSync(KURA_BIN, 'utf8').split('\n', 1)[0]!)?.[1] ?? '').split(' ').filter(Boolean)

export type Backend = 'sqlite' | 'postgres'

export interface KuraOptions {
  backend?: Backend
  /** Keep the data in this directory (created if missing) and do not delete it on stop. */
  dataDir?: string
  /** PostgreSQL database (created if missing); default a fresh one dropped on stop. */
  database?: string
  keep?: boolean
  /** Extra environment for the hub. */
  env?: Record<string, string>
  /** Extra `kura hub` arguments. */
  args?: string[]
  /** Extra node arguments (e.g. --max-old-space-size). */
  nodeArgs?: string[]
  startTimeoutMs?: number
}

export interface KuraServer {
  name: 'kura'
  backend: Backend
  url: string
  dicomwebUrl: string
  /** `authorization: Bearer kura_…` (an admin token): send with every request. */
  headers: Record<string, string>
  pid: number
  dir: string
  log: string
  database?: string
  databaseUrl?: string
  stop(): Promise<void>
}

/** A new admin token for the hub's catalog, from the CLI; the token is the last line of its stdout. */
async function createAdminToken(dataDir: string, env: Record<string, string | undefined>): Promise<string> {
  const args = [KURA_BIN, 'token', 'create', '--admin', '--name', 'bench', '--days', '1', '--data', dataDir]
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: REPO_ROOT, env, timeout: 60_000 }).catch((e: Error & { stderr?: string }) => {
    throw new Error(`kura token create --admin failed: ${e.message}\n${e.stderr ?? ''}`)
  })
  const token = stdout.trim().split('\n').pop()?.trim() ?? ''
  if (!token.startsWith('kura_')) throw new Error(`kura token create --admin printed no kura_… token on its last line: ${JSON.stringify(stdout.slice(-200))}`)
  return token
}

/** Starts the hub and waits for `GET /healthz` 200; throws (with the log tail) when it does not. */
export async function startKura(opts: KuraOptions = {}): Promise<KuraServer> {
  const backend = opts.backend ?? 'sqlite'
  if (!existsSync(KURA_BIN)) throw new Error(`Kura CLI not found at ${KURA_BIN}`)
  const port = await freePort()
  const dir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'kura-bench-hub-'))
  mkdirSync(dir, { recursive: true })
  const ownDir = !opts.dataDir
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env }
  delete env.KURA_DATABASE_URL
  let database: string | undefined
  let databaseUrl: string | undefined
  let ownDb = false
  if (backend === 'postgres') {
    database = opts.database ?? randomDbName('kura_bench_hub')
    ownDb = !opts.keep
    await createDatabase(database, true)
    databaseUrl = pgUrlFor(database)
    env.KURA_DATABASE_URL = databaseUrl
  }
  const dataDir = path.join(dir, 'data')
  mkdirSync(dataDir, { recursive: true })
  const log = path.join(dir, 'kura.log')
  const fd = openSync(log, 'a')
  const child: ChildProcess = spawn(
    process.execPath,
    [...KURA_NODE_FLAGS, ...(opts.nodeArgs ?? []), KURA_BIN, 'hub', '--data', dataDir, '--port', String(port), '--host', '127.0.0.1', ...(opts.args ?? [])],
    { cwd: REPO_ROOT, env, stdio: ['ignore', fd, fd] },
  )
  closeSync(fd)
  let exited = false
  child.on('exit', () => { exited = true })
  const url = `http://127.0.0.1:${port}`
  const cleanup = async () => {
    if (ownDir) rmSync(dir, { recursive: true, force: true })
    if (ownDb && database) await dropDatabase(database).catch((e) => console.error(`could not drop ${database}: ${e.message}`))
  }
  let token: string
  try {
    await waitForHttp(`${url}/healthz`, opts.startTimeoutMs ?? 60_000, () => !exited)
    token = await createAdminToken(dataDir, env)
  } catch (e) {
    const tail = tailFile(log)
    if (!exited) child.kill('SIGKILL')
    await cleanup()
    throw new Error(`Kura hub (${backend}) did not start: ${(e as Error).message}\n--- kura.log ---\n${tail}`)
  }
  return {
    name: 'kura',
    backend,
    url,
    dicomwebUrl: `${url}/dicomweb`,
    headers: { authorization: `Bearer ${token}` },
    pid: child.pid!,
    dir,
    log,
    database,
    databaseUrl,
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
