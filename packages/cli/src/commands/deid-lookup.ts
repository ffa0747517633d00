/**
 * @module `kura deid lookup`: an authorised re-identification lookup in the site's re-identification table, and a
 * check of the lookup audit log. Every attempt (found, not found, wrong key) is appended to the hash-chained log
 * `<reid>.audit.jsonl` BEFORE anything is shown, with the OS user, the stated reason and a keyed digest of what
 * was asked (never the value itself).
 */
import { userInfo } from 'node:os'
import { isKuraError } from '@kura/core'
import { UsageError, parseFlags } from '../args.ts'

export const lookupHelp = `Usage: kura deid lookup --reid FILE --key-file F [--collection NAME] [--reason TEXT] <pseudonym|new UID>
       kura deid lookup --reid FILE --verify-log

Looks up the original identifiers behind a pseudonymous Patient ID (e.g. K1Q2…) or behind a new Study,
Series or SOP Instance UID (2.25.…) that "kura deid --reid FILE --key-file F" recorded. Every attempt,
found or not, is appended to FILE.audit.jsonl (hash-chained; who, when, why, and a keyed digest of the
value asked, never the value) before the answer is printed. Exit code 0 when found, 1 when not.

Options:
  --reid FILE         The re-identification table written by "kura deid --reid FILE".
  --key-file F        The operator key that seals the table (not the site secret).
  --collection NAME   The collection the pseudonym belongs to (default "default").
  --reason TEXT       Why the lookup is made, e.g. the request number; logged. No patient identifiers here.
  --verify-log        Check the audit log's hash chain and print its entry count and head hash.
`

const UID = /^[0-2](\.(0|[1-9]\d*))+$/

function who(): string {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'unknown'
  }
}

export async function runLookup(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('deid', argv, {
    reid: { type: 'string' },
    'key-file': { type: 'string' },
    collection: { type: 'string', short: 'c' },
    reason: { type: 'string' },
    'verify-log': { type: 'boolean' },
  }, true)
  const deid = await import('@kura/deid')
  if (!values.reid) throw new UsageError('--reid FILE is required: the re-identification table to look in. Run "kura deid --help".')
  const logPath = deid.auditLogPath(values.reid)

  if (values['verify-log']) {
    if (positionals.length > 0 || values['key-file'] || values.reason) throw new UsageError('--verify-log takes only --reid FILE.')
    const check = deid.verifyAuditLog(logPath)
    if (check.broken) {
      process.stdout.write(`The lookup audit log ${logPath} is BROKEN at entry ${check.broken.index + 1} of ${check.entries}: ${check.broken.reason}. Treat every entry from there on as untrustworthy and investigate who could write the file.\n`)
      return 1
    }
    process.stdout.write(`The lookup audit log ${logPath} holds: ${check.entries} entr${check.entries === 1 ? 'y' : 'ies'}, head hash ${check.head}.\nKeep the head hash elsewhere: entries removed from the end can only be noticed against it.\n`)
    return 0
  }

  if (positionals.length !== 1) throw new UsageError('Give exactly one pseudonymous Patient ID or new UID to look up. Run "kura deid --help".')
  if (!values['key-file']) throw new UsageError('--key-file F is required: the operator key that seals the re-identification table.')
  const asked = positionals[0]!.trim()
  if (asked === '') throw new UsageError('The value to look up is empty.')
  const collection = values.collection ?? 'default'
  const kind = UID.test(asked) ? 'uid' : 'pseudonym'
  const reason = values.reason?.trim() ? values.reason.trim() : null
  const base = { who: who(), reason, collection, kind } as const

  let table
  try {
    table = deid.ReidTable.openWithKeyFile(values.reid, values['key-file'], { mustExist: true })
  } catch (e) {
    // A refused attempt is logged too: someone tried this table with another key.
    if (isKuraError(e) && e.code === 'DEID_REID_WRONG_KEY') deid.appendAudit(logPath, { ...base, at: new Date().toISOString(), asked: null, outcome: 'wrong-key' })
    throw e
  }
  try {
    const digest = table.auditDigest(asked)
    let lines: string[] = []
    let outcome: 'found' | 'not-found' = 'not-found'
    try {
      if (kind === 'uid') {
        const u = table.lookupUid(collection, asked)
        if (u) {
          const p = table.lookup(collection, u.pseudonymousPatientId)
          lines = [
            `${u.keyword} ${u.newUid}`,
            row('original UID', u.originalUid),
            row('pseudonymous ID', u.pseudonymousPatientId),
            ...(p ? patientLines(p) : ['  (no patient entry recorded for this pseudonym)']),
            row('first seen', u.firstSeen),
          ]
          outcome = 'found'
        }
      } else {
        const p = table.lookup(collection, asked)
        if (p) {
          lines = [`Pseudonymous Patient ID ${p.pseudonymousPatientId}`, ...patientLines(p), row('first seen', p.firstSeen)]
          outcome = 'found'
        }
      }
    } catch (e) {
      deid.appendAudit(logPath, { ...base, at: new Date().toISOString(), asked: digest, outcome: 'failed' })
      throw e
    }
    // Logged first: an answer that cannot be logged is not given.
    deid.appendAudit(logPath, { ...base, at: new Date().toISOString(), asked: digest, outcome })
    if (outcome === 'not-found') {
      process.stdout.write(`No entry for that ${kind === 'uid' ? 'UID' : 'pseudonym'} in collection "${collection}" of ${values.reid}. The attempt was logged to ${logPath}.\n`)
      return 1
    }
    process.stdout.write(`Collection "${collection}":\n${lines.join('\n')}\nThis lookup was logged to ${logPath}.\n`)
    return 0
  } finally {
    table.close()
  }
}

const row = (label: string, value: string): string => `  ${`${label}:`.padEnd(22)}${value}`

function patientLines(p: { patientId: string; patientName?: string; birthDate?: string }): string[] {
  return [row('Patient ID', p.patientId), row("Patient's Name", p.patientName ?? '(not recorded)'), row("Patient's Birth Date", p.birthDate ?? '(not recorded)')]
}
