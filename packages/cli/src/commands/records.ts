/**
 * @module `kura records propose-mapping | check`: the site-side tools for vendor-export adapters. propose-mapping
 * drafts an adapter from a sample export; check reads a whole export through an adapter (streamed) and reports
 * how many records are valid, which rows are held and why, and the vendor terms the adapter does not map yet.
 * Both run on the gateway's machine: they read patient data and print only what the operator needs.
 */
import { open } from 'node:fs/promises'
import { checkExport, ENCODINGS, loadAdapter, proposeMapping, type ExportEncoding } from '@kura/records'
import { choiceFlag, intFlag, parseFlags, UsageError } from '../args.ts'

export const help = `Usage: kura records propose-mapping SAMPLE [--name NAME] [--bytes N] > adapter.yaml
       kura records check --adapter ADAPTER.yaml [--encoding ENC] [--show N] EXPORT

propose-mapping  Reads the start of a vendor export, detects its encoding (UTF-8, Shift_JIS, CP932,
                 EUC-JP, ISO-2022-JP) and format (CSV, TSV, XML and its row element), guesses each
                 column from its header and values, and prints a YAML adapter draft with term maps
                 to complete. No patient's values are copied into the draft.
check            Reads EXPORT through the adapter, validates every record, and prints the counts,
                 the held rows with their reasons (where in the file, never the row itself) and the
                 vendor terms with no term-map entry, most frequent first. Exit code 0 when every
                 record is valid, 1 when some are held.

Options:
  --name NAME       Adapter name written into the draft (default site-export).
  --bytes N         How much of SAMPLE to read (default 1048576).
  --adapter FILE    The adapter YAML (packages/records/src/adapters/shipped/ has two examples).
  --encoding ENC    Read EXPORT in this encoding instead of the adapter's (${ENCODINGS.join(', ')}).
  --show N          Held rows to list (default 20).
  --help            Show this help.
`

/** Fixed-width columns (the catalog helper's layout, without loading the catalog). */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n'
}

async function readStart(path: string, n: number): Promise<Uint8Array> {
  const fh = await open(path, 'r').catch((e: unknown) => {
    throw new UsageError(`Cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}. Give the path of a sample export.`)
  })
  try {
    const buf = Buffer.alloc(n)
    const { bytesRead } = await fh.read(buf, 0, n, 0)
    return buf.subarray(0, bytesRead)
  } finally {
    await fh.close()
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('records', argv, {
    name: { type: 'string' }, bytes: { type: 'string' }, adapter: { type: 'string' }, encoding: { type: 'string' }, show: { type: 'string' },
  }, true)
  const [action, file] = positionals
  if (action === 'propose-mapping') {
    if (!file) throw new UsageError('propose-mapping needs a SAMPLE export file. Run "kura records --help".')
    const sample = await readStart(file, intFlag('records', 'bytes', values.bytes, 1 << 20, 1024))
    const draft = await proposeMapping(sample, values.name ?? 'site-export')
    process.stdout.write(draft.yaml)
    const mapped = draft.columns.filter((c) => c.field).length
    process.stderr.write(`${draft.format}, ${draft.encoding}: ${mapped} of ${draft.columns.length} columns mapped; review the draft before use.\n`)
    return 0
  }
  if (action === 'check') {
    if (!file) throw new UsageError('check needs an EXPORT file. Run "kura records --help".')
    if (!values.adapter) throw new UsageError('check needs --adapter ADAPTER.yaml.')
    const adapter = loadAdapter(values.adapter)
    const encoding = values.encoding === undefined ? undefined : choiceFlag<ExportEncoding>('records', 'encoding', values.encoding, ENCODINGS, adapter.encoding)
    const show = intFlag('records', 'show', values.show, 20)
    const result = await checkExport(file, adapter, { encoding, maxHeld: show })
    process.stdout.write(`${result.records} valid records, ${result.heldCount} held (adapter ${adapter.name} ${adapter.version}, ${encoding ?? adapter.encoding})\n`)
    if (result.held.length > 0) {
      process.stdout.write('\nHeld (first ' + result.held.length + '):\n')
      const rows = [['WHERE', 'FIELD', 'REASON']]
      for (const item of result.held) if ('held' in item) for (const r of item.held.reasons) rows.push([item.held.source.ref, r.path, r.message])
      process.stdout.write(table(rows))
    }
    if (result.unmapped.length > 0) {
      process.stdout.write('\nUnmapped terms (add them to the adapter\'s terms: or map:):\n')
      process.stdout.write(table([['FIELD', 'COLUMN', 'LIST', 'VALUE', 'COUNT'], ...result.unmapped.map((u) => [u.field, u.column, u.list, u.value, String(u.count)])]))
    }
    return result.heldCount > 0 ? 1 : 0
  }
  throw new UsageError(`Unknown action "${action ?? ''}": use propose-mapping or check. Run "kura records --help".`)
}
