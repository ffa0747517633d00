/** @module The signed-in principal (`GET /api/session`), shared by every page. */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { api, ApiError, setCsrfToken, setUnauthenticatedHandler } from './api.ts'
import { navigate } from './router.tsx'
import type { Session } from './types.ts'

interface SessionState {
  /** undefined while the first probe runs; null when nobody is signed in. */
  session: Session | null | undefined
  refresh(): Promise<Session | null>
  signOut(): Promise<void>
}

const SessionContext = createContext<SessionState | null>(null)

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null | undefined>(undefined)

  const refresh = useCallback(async () => {
    try {
      const s = await api.get<Session>('/api/session', { quiet401: true })
      setCsrfToken(s.csrfToken)
      setSession(s)
      return s
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        setCsrfToken(null)
        setSession(null)
        return null
      }
      throw e
    }
  }, [])

  const signOut = useCallback(async () => {
    try {
      await api.post('/api/auth/logout', undefined, { quiet401: true })
    } catch {
      // Signed out already (expired session): the result is the same.
    }
    setCsrfToken(null)
    setSession(null)
    navigate('/sign-in', { replace: true })
  }, [])

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      setCsrfToken(null)
      setSession(null)
      const here = window.location.pathname + window.location.search
      if (!here.startsWith('/sign-in')) navigate(`/sign-in?expired=1&next=${encodeURIComponent(here)}`, { replace: true })
    })
    refresh().catch(() => setSession(null))
  }, [refresh])

  const value = useMemo(() => ({ session, refresh, signOut }), [session, refresh, signOut])
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>
}

export function useSession(): SessionState {
  const ctx = useContext(SessionContext)
  if (!ctx) throw new Error('useSession outside SessionProvider')
  return ctx
}

/** For pages rendered only when signed in. */
export function useSignedIn(): Session {
  const { session } = useSession()
  if (!session) throw new Error('useSignedIn without a session')
  return session
}
