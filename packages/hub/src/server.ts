/** @module startHub: open the archive on the configured backends and serve HTTP. */
import type { HubConfig } from '@kura/core'
import { createLogger } from '@kura/core'
import { openArchive } from './archive/archive.ts'
import { buildApp } from './app.ts'
import { ensureFirstAdmin } from './auth/bootstrap.ts'

export interface RunningHub {
  url: string
  close(): Promise<void>
}

export async function startHub(config: HubConfig): Promise<RunningHub> {
  const log = createLogger(undefined, { service: 'hub' })
  const archive = await openArchive(config, log)
  try {
    const first = await ensureFirstAdmin(archive.catalog.db)
    if (first) {
      // Printed once, on the console of whoever started the hub; it must be changed at first sign-in.
      console.log(`\nkura: created the first administrator "${first.username}" with the one-time password:\n\n    ${first.oneTimePassword}\n\nSign in and choose a new password. (Or make a token: npx kura token create --admin)\n`)
    }
    const app = await buildApp({ archive, config, logger: process.env.KURA_HTTP_LOG === '1' })
    await app.listen({ host: config.host, port: config.port })
    const addr = app.server.address()
    const port = typeof addr === 'object' && addr ? addr.port : config.port
    const host = config.host.includes(':') ? `[${config.host}]` : config.host
    return {
      url: `${config.tls ? 'https' : 'http'}://${host}:${port}`,
      close: async () => {
        await app.close()
        await archive.close()
      },
    }
  } catch (e) {
    await archive.close()
    throw e
  }
}
