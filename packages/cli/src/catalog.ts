/**
 * @module The hub's catalog for administrative verbs run on the hub's machine (token, user,
 * grant, audit): the database of `--data DIR`, or KURA_DATABASE_URL when set, exactly as
 * `kura hub` would open it.
 */
import { loadHubConfig } from '@kura/core'
import { openCatalog, type Catalog } from '@kura/storage'

export async function withCatalog<T>(data: string | undefined, fn: (catalog: Catalog) => Promise<T>): Promise<T> {
  const config = loadHubConfig({ data })
  const catalog = await openCatalog(config.databaseUrl)
  try {
    return await fn(catalog)
  } finally {
    await catalog.close()
  }
}

/** Fixed-width columns for listings. */
export function table(rows: string[][]): string {
  if (!rows.length) return ''
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n'
}
