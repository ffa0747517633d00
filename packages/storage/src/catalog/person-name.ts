/**
 * @module Person-name normalisation for matching (PN, PS3.5 6.2.1).
 *
 * A name has up to three component groups, Alphabetic=Ideographic=Phonetic, e.g.
 * `Yamada^Taro=山田^太郎=やまだ^たろう`. Each group is stored in its own column, normalised the same
 * way a query pattern is — Unicode NFKC (full-width/half-width forms fold together), upper case
 * (matching is case-insensitive, as common practice for names), whitespace trimmed around
 * components and trailing empty components dropped — so `YAMADA*`, `山田*` and `やまだ*` all find
 * the name above with a plain, index-friendly LIKE on one of the three columns.
 */

export type NameGroups = [alphabetic: string, ideographic: string, phonetic: string]

/** Normalises one component group (or a pattern for one); wildcards pass through untouched. */
export function normalizeNameGroup(group: string): string {
  const parts = group.normalize('NFKC').toUpperCase().split('^').map((p) => p.trim())
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop()
  return parts.join('^')
}

/** The three normalised groups of a PN value as stored ('' for absent groups). */
export function nameSearchGroups(pn: string): NameGroups {
  const groups = pn.split('=')
  return [normalizeNameGroup(groups[0] ?? ''), normalizeNameGroup(groups[1] ?? ''), normalizeNameGroup(groups[2] ?? '')]
}
