/**
 * @module Flag parsing for every verb: node:util parseArgs, with misuse turned into a
 * UsageError (exit code 2) whose message names the verb's --help.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { KuraError } from '@kura/core'

/** Wrong flags or arguments: the command exits 2, as shells expect for usage errors. */
export class UsageError extends KuraError {
  constructor(message: string) {
    super('CLI_USAGE', message, { status: 400 })
    this.name = 'UsageError'
  }
}

export function isUsageError(e: unknown): e is UsageError {
  return e instanceof KuraError && e.code === 'CLI_USAGE'
}

type Options = NonNullable<ParseArgsConfig['options']>

/** Parses `argv` for `verb`; `--help` is always accepted. */
export function parseFlags<O extends Options>(verb: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true })
  } catch (e) {
    const err = e as { code?: string; message?: string }
    if (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS')) {
      // Node's messages name the flag ("Unknown option '--x'"); keep the first sentence and point at help.
      const first = (err.message ?? 'invalid arguments').split('. ')[0].replace(/\.$/, '')
      throw new UsageError(`${first}. Run "kura ${verb} --help" for the options.`)
    }
    throw e
  }
}

/** A whole number flag within [min, max], or the default when absent. */
export function intFlag(verb: string, name: string, raw: string | undefined, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined) return dflt
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`--${name} must be a whole number (got "${raw}"). Run "kura ${verb} --help".`)
  const n = Number(raw)
  if (n < min || n > max) throw new UsageError(`--${name} must be from ${min} to ${max} (got ${n}).`)
  return n
}

/** One of a fixed set of words. */
export function choiceFlag<T extends string>(verb: string, name: string, raw: string | undefined, choices: readonly T[], dflt: T): T {
  if (raw === undefined) return dflt
  if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`--${name} must be one of ${choices.join(', ')} (got "${raw}"). Run "kura ${verb} --help".`)
  return raw as T
}

/** An http(s) base URL without a trailing slash. */
export function urlFlag(verb: string, raw: string): string {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new UsageError(`--url "${raw}" is not a URL; give the hub's address, e.g. http://127.0.0.1:8080. Run "kura ${verb} --help".`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--url must be http:// or https:// (got "${raw}").`)
  return u.toString().replace(/\/+$/, '')
}
