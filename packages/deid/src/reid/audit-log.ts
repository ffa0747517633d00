/**
 * @module The re-identification lookup audit log: one JSON line per lookup attempt, kept next to the table as
 * `<table>.audit.jsonl`, hash-chained with @kura/core's chainHash so editing, inserting, removing or reordering an
 * entry breaks the chain (removing entries from the end shows only against a head hash kept elsewhere, which
 * `verifyAuditLog` prints). The log names no identifier: what was asked is stored as the table's keyed digest.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import { CHAIN_GENESIS, chainHash, verifyChain, type ChainBreak } from '@kura/core'
import { ReidErrors } from './errors.ts'

export type LookupKind = 'pseudonym' | 'uid'
export type LookupOutcome = 'found' | 'not-found' | 'wrong-key' | 'failed'

/** What one lookup attempt records; `prev` and `hash` are added by appendAudit. */
export interface LookupAuditBody {
  /** ISO 8601 instant. */
  at: string
  /** The OS user who ran the lookup. */
  who: string
  /** The stated reason (e.g. a request number), or null when none was given. */
  reason: string | null
  collection: string
  kind: LookupKind
  /** ReidTable.auditDigest of the value asked for; null when the key was wrong and no digest could be made. */
  asked: string | null
  outcome: LookupOutcome
}

export interface LookupAuditEntry extends LookupAuditBody {
  prev: string
  hash: string
}

export const auditLogPath = (reidPath: string): string => `${reidPath}.audit.jsonl`

function readLines(path: string): string[] {
  if (!existsSync(path)) return []
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw ReidErrors.auditUnreadable(path, e)
  }
  return text.split('\n').filter((l) => l.trim() !== '')
}

const bodyOf = (e: LookupAuditEntry): LookupAuditBody => {
  const { prev: _p, hash: _h, ...body } = e
  return body
}

/**
 * Appends one entry after the last one and returns it. The caller does this BEFORE showing any result, so a lookup
 * that cannot be logged is not done. Lookups are rare and interactive; two at the same instant may race (both read
 * the same head), which verifyAuditLog then reports as a break: run lookups one at a time.
 */
export function appendAudit(logPath: string, body: LookupAuditBody): LookupAuditEntry {
  const lines = readLines(logPath)
  let prev = CHAIN_GENESIS
  if (lines.length > 0) {
    try {
      prev = String((JSON.parse(lines[lines.length - 1]!) as { hash?: unknown }).hash)
    } catch (e) {
      throw ReidErrors.auditUnreadable(logPath, e)
    }
  }
  const entry: LookupAuditEntry = { ...body, prev, hash: chainHash(prev, body) }
  try {
    appendFileSync(logPath, `${JSON.stringify(entry)}\n`, { mode: 0o600 })
  } catch (e) {
    throw ReidErrors.auditUnwritable(logPath, e)
  }
  return entry
}

export interface AuditLogCheck {
  entries: number
  /** The last entry's hash: keep a copy elsewhere to detect removal of entries from the end. */
  head: string
  /** Where the chain first fails, or null when it holds. */
  broken: ChainBreak | null
}

/** Checks every link of the log; a line that is not an entry breaks the chain at its position. */
export function verifyAuditLog(logPath: string): AuditLogCheck {
  const lines = readLines(logPath)
  const entries: LookupAuditEntry[] = []
  for (const [i, line] of lines.entries()) {
    let e: unknown
    try {
      e = JSON.parse(line)
    } catch {
      return { entries: lines.length, head: entries.at(-1)?.hash ?? CHAIN_GENESIS, broken: { index: i, reason: 'it is not a JSON entry (the line was damaged)' } }
    }
    const o = e as Partial<LookupAuditEntry> | null
    if (o === null || typeof o !== 'object' || typeof o.prev !== 'string' || typeof o.hash !== 'string') {
      return { entries: lines.length, head: entries.at(-1)?.hash ?? CHAIN_GENESIS, broken: { index: i, reason: 'it lacks its chain links (prev, hash)' } }
    }
    entries.push(o as LookupAuditEntry)
  }
  const broken = verifyChain(entries, { prevOf: (e) => e.prev, hashOf: (e) => e.hash, bodyOf })
  return { entries: entries.length, head: entries.at(-1)?.hash ?? CHAIN_GENESIS, broken }
}
