/**
 * @module `kura collection create|list|set`: collections on the hub's machine (the same data the
 * admin API and web application edit).
 */
import { createCollection, listCollections, setCollectionDeidentified } from '@kura/hub'
import { parseFlags, UsageError } from '../args.ts'
import { table, withCatalog } from '../catalog.ts'

export const help = `Usage: kura collection create NAME [--deidentified] [--data DIR]
       kura collection list [--data DIR]
       kura collection set NAME --deidentified | --not-deidentified [--data DIR]

A collection is one society's database or one research project; grants and uploads name it.
--deidentified: the hub accepts only de-identified objects into it, checks each on receipt, and
quarantines what fails (curators see it under /api/quarantine).

Options:
  --data DIR   The hub's data folder (default ./data, or KURA_DATA_DIR).
  --help       Show this help.
`

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('collection', argv, { data: { type: 'string' }, deidentified: { type: 'boolean' }, 'not-deidentified': { type: 'boolean' } }, true)
  const [action, name] = positionals
  return withCatalog(values.data, async ({ db }) => {
    switch (action) {
      case 'create': {
        if (!name) throw new UsageError('collection create needs a NAME.')
        const c = await createCollection(db, name, values.deidentified === true)
        process.stdout.write(`created collection ${c.name}${c.deidentified ? ' (de-identified only)' : ''}\n`)
        return 0
      }
      case 'list':
        process.stdout.write(table([['NAME', 'DE-IDENTIFIED', 'STUDIES', 'INSTANCES'], ...(await listCollections(db, 'all')).map((c) => [c.name, c.deidentified ? 'yes' : 'no', String(c.studies), String(c.instances)])]))
        return 0
      case 'set': {
        if (!name) throw new UsageError('collection set needs a NAME.')
        if (values.deidentified === values['not-deidentified']) throw new UsageError('Give exactly one of --deidentified or --not-deidentified.')
        await setCollectionDeidentified(db, name, values.deidentified === true)
        process.stdout.write(`collection ${name}: ${values.deidentified ? 'de-identified only' : 'any object'}\n`)
        return 0
      }
      default:
        throw new UsageError(`Unknown action "${action ?? ''}": use create, list or set. Run "kura collection --help".`)
    }
  })
}
