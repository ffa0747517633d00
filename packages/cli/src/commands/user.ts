/**
 * @module `kura user add|list` and `kura grant add|list|remove`: people and what they may do,
 * on the hub's machine (the same data the web application's admin pages edit).
 */
import { addGrant, createUser, findUserByName, listGrants, listUsers, removeGrant, ROLES, userView } from '@kura/hub'
import { parseFlags, UsageError } from '../args.ts'
import { table, withCatalog } from '../catalog.ts'

export const help = `Usage: kura user add NAME [--admin] [--display-name X] [--email E] [--data DIR]
       kura user list [--data DIR]
       kura user grant NAME --role R [--collection C] [--site S] [--data DIR]
       kura user grants [NAME] [--data DIR]
       kura user revoke-grant ID [--data DIR]

Users and their grants (a role on one collection, or on all when --collection is left out).
Roles: ${ROLES.join(', ')}.

add          Creates a local user and prints a one-time password (LAST line); it must be
             changed at first sign-in.
grant        Gives NAME the role (site_uploader also needs --site).
grants       Lists grants (of NAME, or everyone's) with their IDs.
revoke-grant Removes a grant by ID; tokens of that user narrow at once.

Options:
  --data DIR   The hub's data folder (default ./data, or KURA_DATA_DIR).
  --help       Show this help.
`

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'user',
    argv,
    { data: { type: 'string' }, admin: { type: 'boolean' }, 'display-name': { type: 'string' }, email: { type: 'string' }, role: { type: 'string' }, collection: { type: 'string' }, site: { type: 'string' } },
    true,
  )
  const [action, arg] = positionals
  return withCatalog(values.data, async ({ db }) => {
    const userNamed = async (name: string | undefined) => {
      if (!name) throw new UsageError(`user ${action} needs a user NAME. Run "kura user --help".`)
      const u = await findUserByName(db, name)
      if (!u) throw new UsageError(`No user named "${name}"; see "kura user list".`)
      return u
    }
    switch (action) {
      case 'add': {
        if (!arg) throw new UsageError('user add needs a NAME.')
        const { user, oneTimePassword } = await createUser(db, { username: arg, displayName: values['display-name'], email: values.email, isAdmin: values.admin === true })
        process.stderr.write(`kura: created ${user.is_admin ? 'administrator' : 'user'} "${user.username}". One-time password (change it at first sign-in):\n`)
        process.stdout.write(`${oneTimePassword}\n`)
        return 0
      }
      case 'list':
        process.stdout.write(table([['ID', 'USER', 'NAME', 'ADMIN', 'STATE', 'SIGN-IN'], ...(await listUsers(db)).map(userView).map((u) => [u.id, u.username, u.displayName, u.isAdmin ? 'yes' : '', u.disabled ? 'disabled' : u.lockedUntil ? `locked until ${u.lockedUntil}` : 'active', u.oidc ? 'oidc' : 'password'])]))
        return 0
      case 'grant': {
        const user = await userNamed(arg)
        if (!values.role) throw new UsageError(`user grant needs --role (${ROLES.join(', ')}).`)
        const g = await addGrant(db, { userId: user.id, role: values.role, collection: values.collection ?? null, site: values.site ?? null })
        process.stdout.write(`granted ${g.id}: ${g.username} is ${g.role} on ${g.collection ?? 'every collection'}${g.site ? ` for site ${g.site}` : ''}\n`)
        return 0
      }
      case 'grants': {
        const user = arg ? await userNamed(arg) : undefined
        process.stdout.write(table([['ID', 'USER', 'ROLE', 'COLLECTION', 'SITE'], ...(await listGrants(db, user?.id)).map((g) => [g.id, g.username, g.role, g.collection ?? '*', g.site ?? '-'])]))
        return 0
      }
      case 'revoke-grant':
        if (!arg) throw new UsageError('user revoke-grant needs the grant ID (see "kura user grants").')
        await removeGrant(db, arg)
        process.stdout.write(`removed grant ${arg}\n`)
        return 0
      default:
        throw new UsageError(`Unknown action "${action ?? ''}": use add, list, grant, grants or revoke-grant. Run "kura user --help".`)
    }
  })
}
