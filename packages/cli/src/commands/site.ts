/**
 * @module `kura site create|list`: facilities, on the hub's machine. A site uploader's grant and
 * token name their site.
 */
import { createSite, listSites } from '@kura/hub'
import { parseFlags, UsageError } from '../args.ts'
import { table, withCatalog } from '../catalog.ts'

export const help = `Usage: kura site create NAME [--data DIR]
       kura site list [--data DIR]

A site is one facility (a hospital's gateway uploads as its site).

Options:
  --data DIR   The hub's data folder (default ./data, or KURA_DATA_DIR).
  --help       Show this help.
`

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('site', argv, { data: { type: 'string' } }, true)
  const [action, name] = positionals
  return withCatalog(values.data, async ({ db }) => {
    if (action === 'create') {
      if (!name) throw new UsageError('site create needs a NAME.')
      process.stdout.write(`created site ${(await createSite(db, name)).name}\n`)
      return 0
    }
    if (action === 'list') {
      process.stdout.write(table([['NAME', 'CREATED'], ...(await listSites(db)).map((s) => [s.name, s.createdAt])]))
      return 0
    }
    throw new UsageError(`Unknown action "${action ?? ''}": use create or list. Run "kura site --help".`)
  })
}
