/**
 * @module `kura token create|list|revoke`: API tokens, on the hub's machine.
 */
import { createToken, findUserByName, issueAdminToken, listTokens, revokeToken, ROLES } from '@kura/hub'
import { intFlag, parseFlags, UsageError } from '../args.ts'
import { table, withCatalog } from '../catalog.ts'

export const help = `Usage: kura token create --admin [--name N] [--days D] [--data DIR]
       kura token create --user U --role R [--collection C] [--site S] [--name N] [--days D] [--data DIR]
       kura token list [--user U] [--data DIR]
       kura token revoke ID [--data DIR]

API tokens for gateways and scripts (send as "Authorization: Bearer kura_…"). Run on the hub's
machine: it works on the hub's catalog (the --data folder, or KURA_DATABASE_URL).

create   Prints the new token on its LAST line; it is shown only this once (stored hashed).
         --admin makes an admin token owned by the first administrator (created, with a
         one-time password printed, when the hub has no users yet).
         --role is one of: ${ROLES.join(', ')}. A token is never stronger than its
         user's grants, now or later.
list     Tokens with their scope, expiry and last use (never the secret).
revoke   Revokes at once; every hub process stops accepting it within a second.

Options:
  --data DIR       The hub's data folder (default ./data, or KURA_DATA_DIR).
  --name N         What the token is for (default "cli").
  --days D         Days until it expires (default 90, at most 730).
  --help           Show this help.
`

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'token',
    argv,
    { data: { type: 'string' }, admin: { type: 'boolean' }, user: { type: 'string' }, role: { type: 'string' }, collection: { type: 'string' }, site: { type: 'string' }, name: { type: 'string' }, days: { type: 'string' } },
    true,
  )
  const [action, id] = positionals
  const days = intFlag('token', 'days', values.days, 90, 1, 730)
  return withCatalog(values.data, async ({ db }) => {
    if (action === 'create') {
      if (values.admin) {
        const { token, firstAdmin, owner } = await issueAdminToken(db, values.name ?? 'cli', days)
        if (firstAdmin) process.stderr.write(`kura: created the first administrator "${firstAdmin.username}"; one-time password: ${firstAdmin.oneTimePassword}\n`)
        process.stderr.write(`kura: admin token for "${owner}", expires in ${days} days. It is shown only now:\n`)
        process.stdout.write(`${token}\n`)
        return 0
      }
      if (!values.user || !values.role) throw new UsageError('token create needs --admin, or --user and --role. Run "kura token --help".')
      const user = await findUserByName(db, values.user)
      if (!user) throw new UsageError(`No user named "${values.user}"; create one with "kura user add ${values.user}".`)
      const { token, info } = await createToken(db, { userId: user.id, name: values.name ?? 'cli', role: values.role, collection: values.collection ?? null, site: values.site ?? null, expiresInDays: days })
      process.stderr.write(`kura: token ${info.id} (${info.role}${info.collection ? ` on ${info.collection}` : ''}${info.site ? `, site ${info.site}` : ''}) for "${user.username}", expires ${info.expiresAt}. It is shown only now:\n`)
      process.stdout.write(`${token}\n`)
      return 0
    }
    if (action === 'list') {
      const owner = values.user ? await findUserByName(db, values.user) : undefined
      if (values.user && !owner) throw new UsageError(`No user named "${values.user}".`)
      const tokens = await listTokens(db, owner ? { userId: owner.id } : {})
      process.stdout.write(
        table([
          ['ID', 'USER', 'NAME', 'ROLE', 'COLLECTION', 'SITE', 'EXPIRES', 'STATE', 'LAST USED'],
          ...tokens.map((t) => [t.id, t.username, t.name, t.role, t.collection ?? '*', t.site ?? '-', t.expiresAt.slice(0, 10), t.revokedAt ? 'revoked' : t.expiresAt < new Date().toISOString() ? 'expired' : 'active', t.lastUsedAt ?? '-']),
        ]),
      )
      return 0
    }
    if (action === 'revoke') {
      if (!id) throw new UsageError('token revoke needs the token ID (see "kura token list").')
      const t = await revokeToken(db, id)
      process.stdout.write(`revoked ${t.id} (${t.name}, ${t.username})\n`)
      return 0
    }
    throw new UsageError(`Unknown action "${action ?? ''}": use create, list or revoke. Run "kura token --help".`)
  })
}
