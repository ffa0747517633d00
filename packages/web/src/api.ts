/**
 * @module The one fetch wrapper: JSON in and out, the CSRF header on unsafe methods, `{ code, message }`
 * answers turned into `ApiError`, and a 401 sends the user back to sign-in.
 */

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  /** Seconds from a `Retry-After` header (429), when the hub sent one. */
  readonly retryAfter: number | null
  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.retryAfter = retryAfter
  }
}

let csrfToken: string | null = null
let onUnauthenticated: () => void = () => {}

/** The token `login` and `GET /api/session` return; cookie-authenticated unsafe requests need it. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token
}

/** Called when the hub answers 401 UNAUTHENTICATED (the session expired or was revoked). */
export function setUnauthenticatedHandler(handler: () => void): void {
  onUnauthenticated = handler
}

/** The CSRF header for an unsafe request sent outside `request` (an XMLHttpRequest upload with progress). */
export function csrfHeaders(): Record<string, string> {
  return csrfToken ? { 'x-csrf-token': csrfToken } : {}
}

/** Tells the session an upload got 401 UNAUTHENTICATED, as `request` does for its own calls. */
export function unauthenticated(): void {
  onUnauthenticated()
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  body?: unknown
  accept?: string
  signal?: AbortSignal
  /** Do not redirect to sign-in on 401 (the session probe and the sign-in form handle it themselves). */
  quiet401?: boolean
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? 'GET'
  const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' }
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  if (UNSAFE.has(method) && csrfToken) headers['x-csrf-token'] = csrfToken
  let res: Response
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'same-origin',
      signal: opts.signal,
    })
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e
    throw new ApiError(0, 'NETWORK', 'The hub could not be reached. Check the network and try again.')
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  let json: unknown = undefined
  if (text) {
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
  }
  if (!res.ok) {
    const err = (json ?? {}) as { code?: string; message?: string }
    const retryAfter = Number(res.headers.get('retry-after'))
    const e = new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? `${res.status} ${res.statusText}`, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null)
    if (res.status === 401 && e.code === 'UNAUTHENTICATED' && !opts.quiet401) onUnauthenticated()
    throw e
  }
  return json as T
}

export const api = {
  get: <T>(path: string, opts?: Omit<RequestOptions, 'method' | 'body'>) => request<T>(path, { ...opts, method: 'GET' }),
  post: <T>(path: string, body?: unknown, opts?: Omit<RequestOptions, 'method' | 'body'>) => request<T>(path, { ...opts, method: 'POST', body: body ?? {} }),
  patch: <T>(path: string, body: unknown) => request<T>(path, { method: 'PATCH', body }),
  del: (path: string) => request<void>(path, { method: 'DELETE' }),
}

/** Builds `path?k=v&…`, leaving out empty values. */
export function withQuery(path: string, query: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `${path}?${s}` : path
}
