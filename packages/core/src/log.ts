/**
 * @module Logging: one structured logger shape for every package (pino-compatible subset).
 */
export interface Logger {
  debug(obj: object | string, msg?: string): void
  info(obj: object | string, msg?: string): void
  warn(obj: object | string, msg?: string): void
  error(obj: object | string, msg?: string): void
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const
export type LogLevel = keyof typeof LEVELS

/** JSON lines on stderr, so stdout stays free for command output. */
export function createLogger(level: LogLevel = (process.env.KURA_LOG_LEVEL as LogLevel) ?? 'info', bindings: object = {}): Logger {
  const min = LEVELS[level] ?? LEVELS.info
  const emit = (lvl: Exclude<LogLevel, 'silent'>) => (obj: object | string, msg?: string) => {
    if (LEVELS[lvl] < min) return
    const rec = typeof obj === 'string' ? { msg: obj } : { ...obj, msg }
    process.stderr.write(JSON.stringify({ level: lvl, time: new Date().toISOString(), ...bindings, ...rec }) + '\n')
  }
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') }
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }
