/**
 * @module `kura hub`: serve DICOMweb and the archive until SIGINT/SIGTERM, then close cleanly
 * (in-flight requests finish, the catalog is closed) so a restart finds nothing half-written.
 */
import cluster from 'node:cluster'
import { loadHubConfig, type HubConfig } from '@kura/core'
import { intFlag, parseFlags } from '../args.ts'

export const help = `Usage: kura hub [--data DIR] [--port P] [--host H]

Runs the hub: DICOMweb (STOW-RS, QIDO-RS, WADO-RS) under /dicomweb, over the catalog and
object store. With no environment settings it keeps everything under the data folder
(SQLite catalog, files); KURA_DATABASE_URL=postgres://… and KURA_S3_BUCKET / KURA_S3_ENDPOINT
switch to PostgreSQL and S3-compatible storage.

Options:
  --data DIR   Data folder for the embedded catalog and objects (default ./data, or KURA_DATA_DIR).
  --port P     TCP port (default 8080, or KURA_PORT; 0 picks a free one).
  --host H     Address to listen on (default 127.0.0.1, or KURA_HOST; 0.0.0.0 for all).
  --workers N  HTTP worker processes sharing the port (default 1, or KURA_WORKERS). They share
               nothing but the catalog and object store; more than one pays off with
               PostgreSQL on machines with more than 2 cores (on 2 cores it measured slower).
  --help       Show this help.
`

/** Hides a password in a database URL before printing it. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]+):[^@]*@/i, '$1:***@')
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags('hub', argv, {
    data: { type: 'string' },
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    workers: { type: 'string' },
  })
  const config = loadHubConfig({
    data: values.data,
    port: values.port === undefined ? undefined : intFlag('hub', 'port', values.port, 8080, 0, 65535),
    host: values.host,
  })
  const workers = intFlag('hub', 'workers', values.workers ?? process.env.KURA_WORKERS, 1, 1, 64)
  if (cluster.isPrimary && workers > 1) return runPrimary(config, workers)

  const { startHub } = await import('@kura/hub')
  const hub = await startHub(config)
  if (cluster.isPrimary) announce(config, hub.url)

  return await new Promise<number>((resolve) => {
    let closing = false
    const stop = (signal: NodeJS.Signals) => {
      if (closing) {
        // A second Ctrl-C means "now": leave without waiting for requests to drain.
        process.stderr.write(`kura hub: ${signal} again, exiting without waiting\n`)
        process.exit(130)
      }
      closing = true
      process.stderr.write(`kura hub: ${signal} received, closing…\n`)
      hub.close().then(
        () => {
          process.stderr.write('kura hub: closed\n')
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          resolve(0)
        },
        (e) => {
          process.stderr.write(`kura hub: error while closing: ${(e as Error)?.message ?? e}\n`)
          resolve(1)
        },
      )
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}

function announce(config: HubConfig, url: string, workers = 1): void {
  process.stdout.write(`Kura hub listening on ${url}\n`)
  process.stderr.write(
    `  catalog: ${redactUrl(config.databaseUrl)}\n  objects: ${config.s3 ? `s3://${config.s3.bucket}${config.s3.endpoint ? ` at ${config.s3.endpoint}` : ''}` : config.dataDir}\n` +
      `  workers: ${workers}\n  open: ${url} (sign in; API tokens: npx kura token create --admin)\n  stop: Ctrl-C\n`,
  )
}

/**
 * The primary forks `workers` hub processes that share the listening socket (node:cluster),
 * restarts one that dies, and on SIGINT/SIGTERM stops them all gracefully.
 */
async function runPrimary(config: HubConfig, workers: number): Promise<number> {
  // Migrations run once here, before any worker opens the catalog.
  const { openArchive } = await import('@kura/hub')
  await (await openArchive(config)).close()
  cluster.setupPrimary({ silent: false })
  let closing = false
  let announced = false
  const spawn = () => cluster.fork()
  cluster.on('listening', (_w, address) => {
    if (announced) return
    announced = true
    const host = address.address && address.address !== '::' ? address.address : config.host
    announce(config, `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`, workers)
  })
  cluster.on('exit', (w, code, signal) => {
    if (closing) return
    process.stderr.write(`kura hub: worker ${w.process.pid} exited (${signal ?? code}); starting another\n`)
    setTimeout(spawn, 500)
  })
  for (let i = 0; i < workers; i++) spawn()
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (closing) process.exit(130)
      closing = true
      process.stderr.write(`kura hub: ${signal} received, closing ${workers} workers…\n`)
      const alive = Object.values(cluster.workers ?? {}).filter((w) => w && !w.isDead())
      let left = alive.length
      if (left === 0) resolve(0)
      for (const w of alive) {
        w!.once('exit', () => {
          if (--left === 0) {
            process.stderr.write('kura hub: closed\n')
            resolve(0)
          }
        })
        w!.process.kill('SIGTERM')
      }
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
