/**
 * @module Test support for the OIDC tests: a real `oidc-provider` (certified OpenID Provider)
 * on 127.0.0.1, and a minimal cookie-keeping "browser" that walks its sign-in and consent
 * pages with fetch and manual redirects. Not used by the hub itself.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, type JWK } from 'jose'

/** The parts of oidc-provider's API these tests touch (the package ships no type declarations). */
interface ProviderLike {
  callback(): (req: IncomingMessage, res: ServerResponse) => void
  on(event: string, fn: (...args: unknown[]) => void): void
}
type ProviderCtor = new (issuer: string, config: Record<string, unknown>) => ProviderLike

export interface TestAccount {
  email?: string
  email_verified?: boolean
  name?: string
  preferred_username?: string
}

export interface TestClient {
  client_id: string
  client_secret?: string
  redirect_uris: string[]
  token_endpoint_auth_method?: 'client_secret_basic' | 'none'
}

export interface TestProvider {
  issuer: string
  /** The provider's private signing key (RS256), e.g. to prove what a correctly signed token looks like. */
  signingKey: JWK
  close(): Promise<void>
}

// oidc-provider announces its development defaults (and, on Node 20, "Unsupported runtime") through
// console.warn/info with this prefix; they are expected here and would bury the test output.
let quieted = false
function quietProviderNotices(): void {
  if (quieted) return
  quieted = true
  for (const level of ['warn', 'info'] as const) {
    const original = console[level].bind(console)
    console[level] = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider ')) return
      original(...args)
    }
  }
}

export async function startProvider(opts: {
  clients: TestClient[]
  accounts: Record<string, TestAccount>
  /** oidc-provider's default (true) keeps profile claims out of a code-flow ID token (they come from userinfo). */
  conformIdTokenClaims?: boolean
}): Promise<TestProvider> {
  quietProviderNotices()
  // @ts-expect-error oidc-provider ships no type declarations; ProviderLike lists what is used.
  const { default: Provider } = (await import('oidc-provider')) as { default: ProviderCtor }
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end()
  const server: Server = createServer((req, res) => handler(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  // A fresh signing key per provider instead of oidc-provider's published development keys.
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const signingKey = { ...(await exportJWK(privateKey)), kid: `test-${Date.now()}`, alg: 'RS256', use: 'sig' }

  const provider = new Provider(issuer, {
    clients: opts.clients.map((c) => ({ grant_types: ['authorization_code'], response_types: ['code'], ...c })),
    jwks: { keys: [signingKey] },
    pkce: { required: () => true },
    cookies: { keys: ['kura-oidc-test-cookie-key'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
    conformIdTokenClaims: opts.conformIdTokenClaims ?? true,
    features: { devInteractions: { enabled: true } },
    findAccount: (_ctx: unknown, id: string) => {
      const account = opts.accounts[id]
      return account && { accountId: id, claims: async () => ({ sub: id, ...account }) }
    },
  })
  handler = provider.callback()
  return {
    issuer,
    signingKey,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

/** A browser stand-in: keeps cookies (by name; every test server is on 127.0.0.1) and follows redirects by hand. */
export class TestBrowser {
  readonly cookies = new Map<string, string>()

  async get(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    const res = await fetch(url, { ...init, headers, redirect: 'manual' })
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()))
      if (expired || value === '') this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return res
  }

  /**
   * Follow redirects from `url` until one points at `stopAt` (our redirect_uri), signing in as
   * `login` and granting consent on the provider's own pages, or aborting there when `abort`.
   * Returns the URL the provider sent the browser back to.
   */
  async signIn(url: string, stopAt: string, opts: { login: string; abort?: boolean }): Promise<URL> {
    let next = url
    for (let hop = 0; hop < 20; hop++) {
      if (next.startsWith(stopAt)) return new URL(next)
      const res = await this.get(next)
      const location = res.headers.get('location')
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel()
        next = new URL(location, next).href
        continue
      }
      const html = await res.text()
      if (res.status !== 200) throw new Error(`provider answered ${res.status} at ${next}: ${html.slice(0, 300)}`)
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
      const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1]
      if (!action || !prompt) throw new Error(`no interaction form at ${next}: ${html.slice(0, 300)}`)
      const submit = new URL(action.replace(/&amp;/g, '&'), next)
      if (opts.abort) {
        next = new URL(`${submit.pathname}/abort`, next).href
        continue
      }
      const form: Record<string, string> = prompt === 'login' ? { prompt, login: opts.login, password: 'any' } : { prompt }
      const posted = await this.get(submit.href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      })
      await posted.body?.cancel()
      const to = posted.headers.get('location')
      if (posted.status < 300 || posted.status >= 400 || !to) throw new Error(`interaction ${prompt} answered ${posted.status}`)
      next = new URL(to, submit).href
    }
    throw new Error('too many redirects during sign-in at the provider')
  }
}

/** A free loopback port: the provider must know the exact redirect_uri before the app listens. */
export async function freePort(): Promise<number> {
  const s = createNetServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}
