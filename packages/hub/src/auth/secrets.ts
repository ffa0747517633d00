/**
 * @module The hub's cookie-signing secret: KURA_COOKIE_SECRET, or a random one kept in the
 * data directory (mode 0600). Several hub processes on different machines need the same value:
 * set KURA_COOKIE_SECRET for them.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'

export function cookieSecret(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.KURA_COOKIE_SECRET) return env.KURA_COOKIE_SECRET
  const file = join(dataDir, 'cookie-secret')
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    mkdirSync(dataDir, { recursive: true })
    const secret = randomBytes(32).toString('base64url')
    try {
      // wx: when two processes race, the first one's secret wins and the other reads it.
      writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' })
      return secret
    } catch {
      return readFileSync(file, 'utf8').trim()
    }
  }
}
