/**
 * @module `kura vocabulary import|list`: vocabularies on the hub's machine. Licensed masters (SNOMED CT, ICD-O-3,
 * MEDIS) are never shipped with Kura; an institution imports its own licensed copy as a CSV/TSV file.
 */
import { readFile } from 'node:fs/promises'
import { annotations } from '@kura/hub'
import { parseFlags, UsageError } from '../args.ts'
import { table, withCatalog } from '../catalog.ts'

export const help = `Usage: kura vocabulary import --system SYSTEM --version VERSION FILE [options]
       kura vocabulary list [--data DIR]

import: loads one version of a licensed vocabulary (SNOMED CT, ICD-O-3, MEDIS masters, ...)
from a CSV or TSV file exported from the institution's own licensed copy. The first row names
the columns: code, meaning_en, meaning_ja, parent (one parent code, empty for a root) and
status (active/retired, or 1/0). A version, once loaded, never changes: import corrections as a
new version. Kura ships only freely usable vocabularies; never commit licensed files anywhere.

  kura vocabulary import --system SNOMED-CT --version 2026-09 snomed-ja.tsv
  kura vocabulary import --system MEDIS-DISEASE --version 5.10 --encoding shift_jis \\
       --columns code=病名交換用コード,meaning_ja=病名表記 medis.csv

Options:
  --system S      Code system name (e.g. SNOMED-CT, ICD-O-3, MEDIS-DISEASE).
  --version V     The release (e.g. 2026-09).
  --name N        Display name (default: the system); --name-ja for the Japanese one.
  --licence TEXT  Licence note stored with the vocabulary.
  --encoding E    utf-8, shift_jis or auto (default auto: UTF-8, else Shift_JIS).
  --columns MAP   Header names for columns, e.g. code=ConceptId,meaning_en=Term.
  --data DIR      The hub's data folder (default ./data, or KURA_DATA_DIR).
  --help          Show this help.
`

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'vocabulary',
    argv,
    {
      data: { type: 'string' },
      system: { type: 'string' },
      version: { type: 'string' },
      name: { type: 'string' },
      'name-ja': { type: 'string' },
      licence: { type: 'string' },
      encoding: { type: 'string' },
      columns: { type: 'string' },
    },
    true,
  )
  const [action, file] = positionals
  if (action === 'list') {
    return withCatalog(values.data, async ({ db }) => {
      await annotations.loadShippedVocabularies(db)
      const rows = await annotations.listVocabularies(db)
      process.stdout.write(table([['SYSTEM', 'VERSION', 'ORIGIN', 'NAME', 'ID'], ...rows.map((v) => [v.system, v.version, v.origin, v.name.slice(0, 60), v.id])]))
      return 0
    })
  }
  if (action !== 'import') throw new UsageError(`Unknown action "${action ?? ''}": use import or list. Run "kura vocabulary --help".`)
  if (!file) throw new UsageError('vocabulary import needs the FILE to read.')
  if (!values.system || !values.version) throw new UsageError('vocabulary import needs --system and --version.')
  const encoding = (values.encoding ?? 'auto').toLowerCase()
  if (!['auto', 'utf-8', 'shift_jis'].includes(encoding)) throw new UsageError('--encoding is utf-8, shift_jis or auto.')
  let bytes: Uint8Array
  try {
    bytes = await readFile(file)
  } catch (e) {
    throw new UsageError(`Cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`)
  }
  return withCatalog(values.data, async ({ db }) => {
    const r = await annotations.importVocabularyFile(
      db,
      bytes,
      { system: values.system!, version: values.version!, name: values.name, nameJa: values['name-ja'], licence: values.licence },
      { encoding: encoding as annotations.TextEncoding, columns: annotations.parseColumnMap(values.columns) },
    )
    process.stdout.write(`imported ${r.vocabulary.system} ${r.vocabulary.version}: ${r.codes} codes (id ${r.vocabulary.id})\n`)
    return 0
  })
}
