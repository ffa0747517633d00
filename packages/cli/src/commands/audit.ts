/**
 * @module `kura audit verify|export`: checks the hub's hash-chained audit log, and writes a
 * range of it for the society's records.
 */
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { auditRows, auditView, verifyAudit } from '@kura/hub'
import { parseFlags, UsageError } from '../args.ts'
import { withCatalog } from '../catalog.ts'

export const help = `Usage: kura audit verify [--data DIR] [--head SEQ:HASH]
       kura audit export [--from ISO] [--to ISO] [--out FILE] [--data DIR]

verify   Walks the whole chain and exits 0 only when it is intact: every event's hash
         matches its content and links to the one before, with no gap. --head checks a head
         recorded earlier (from a previous export), which also detects deleted newest events.
export   Writes events (JSON lines, oldest first; --from inclusive, --to exclusive) to FILE
         or stdout, then a last line {"head": {"seq", "hash"}}: keep it, and a later
         "verify --head" proves nothing up to it was changed or removed.

Options:
  --data DIR   The hub's data folder (default ./data, or KURA_DATA_DIR).
  --help       Show this help.
`

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('audit', argv, { data: { type: 'string' }, head: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' } }, true)
  const [action] = positionals
  return withCatalog(values.data, async ({ db }) => {
    if (action === 'verify') {
      let head: { seq: number; hash: string } | undefined
      if (values.head) {
        const m = /^(\d+):([0-9a-f]{64})$/.exec(values.head)
        if (!m) throw new UsageError('--head is SEQ:HASH, as printed by "kura audit export".')
        head = { seq: Number(m[1]), hash: m[2]! }
      }
      const r = await verifyAudit(db, head)
      if (r.ok) {
        process.stdout.write(`audit chain intact: ${r.events} events, head ${r.events}:${r.head}\n`)
        return 0
      }
      process.stdout.write(`audit chain BROKEN at event ${r.firstBad}: ${r.reason} (${r.events} events verified before it)\n`)
      return 1
    }
    if (action === 'export') {
      for (const [k, v] of [['from', values.from], ['to', values.to]] as const) {
        if (v && Number.isNaN(Date.parse(v))) throw new UsageError(`--${k} must be an ISO date or time (got "${v}").`)
      }
      const range = { from: values.from ? new Date(values.from).toISOString() : undefined, to: values.to ? new Date(values.to).toISOString() : undefined }
      const out = values.out ? createWriteStream(values.out, { flags: 'wx' }) : process.stdout
      let last: { seq: number; hash: string } | null = null
      let n = 0
      for await (const row of auditRows(db, range)) {
        const v = auditView(row)
        if (!out.write(JSON.stringify({ ...v, prevHash: row.prev_hash }) + '\n')) await once(out, 'drain')
        last = { seq: v.seq, hash: v.hash }
        n++
      }
      out.write(JSON.stringify({ head: last }) + '\n')
      if (out !== process.stdout) {
        out.end()
        await once(out, 'finish')
        process.stderr.write(`kura: wrote ${n} events to ${values.out}${last ? `; head ${last.seq}:${last.hash}` : ''}\n`)
      }
      return 0
    }
    throw new UsageError(`Unknown action "${action ?? ''}": use verify or export. Run "kura audit --help".`)
  })
}
