/**
 * @module `kura hub`: serve DICOMweb and the archive until SIGINT/SIGTERM, then close cleanly
 * (in-flight requests finish, the catalog is closed) so a restart finds nothing half-written.
 */
import { loadHubConfig } from '@kura/core'
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
  })
  const config = loadHubConfig({
    data: values.data,
    port: values.port === undefined ? undefined : intFlag('hub', 'port', values.port, 8080, 0, 65535),
    host: values.host,
  })
  const { startHub } = await import('@kura/hub')
  const hub = await startHub(config)
  process.stdout.write(`Kura hub listening on ${hub.url}\n`)
  process.stderr.write(
    `  catalog: ${redactUrl(config.databaseUrl)}\n  objects: ${config.s3 ? `s3://${config.s3.bucket}${config.s3.endpoint ? ` at ${config.s3.endpoint}` : ''}` : config.dataDir}\n` +
      `  try: ${hub.url}/dicomweb/studies\n  stop: Ctrl-C\n`,
  )

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
