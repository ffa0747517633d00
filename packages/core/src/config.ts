/**
 * @module Config: the hub's settings, from flags over environment over embedded defaults.
 *
 * Embedded defaults: SQLite catalog and filesystem objects under `dataDir`, in-process jobs.
 * `KURA_DATABASE_URL=postgres://…` and `KURA_S3_*` switch to the shared backends.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { CoreErrors } from './errors.ts'

export interface S3Config {
  endpoint?: string
  bucket: string
  region: string
  accessKeyId?: string
  secretAccessKey?: string
  /** Path-style addressing (`endpoint/bucket/key`), needed by most self-hosted S3 servers. */
  forcePathStyle: boolean
}

export interface HubConfig {
  host: string
  port: number
  dataDir: string
  /** `sqlite:<path>` for the embedded default, or a `postgres://` URL. */
  databaseUrl: string
  s3: S3Config | null
  /** Public base URL used in BulkDataURIs and Location headers; derived from the request when absent. */
  publicUrl?: string
  /** Sign-in through the institution's OpenID Connect provider; null when only local accounts are used. */
  oidc: OidcClientConfig | null
  /** Serve HTTPS with these PEM files (HSTS is then sent); null serves plain HTTP. */
  tls: { certFile: string; keyFile: string } | null
  /** Queue workers this process runs (KURA_JOB_WORKERS, default 1; 0 for API-only processes beside worker processes). */
  jobWorkers: number
}

export interface OidcClientConfig {
  issuer: string
  clientId: string
  clientSecret?: string
  /** Shown on the sign-in button. */
  name: string
}

export interface HubFlags {
  host?: string
  port?: number
  data?: string
}

export function loadHubConfig(flags: HubFlags = {}, env: NodeJS.ProcessEnv = process.env): HubConfig {
  const dataDir = resolve(flags.data ?? env.KURA_DATA_DIR ?? './data')
  const port = flags.port ?? (env.KURA_PORT ? Number(env.KURA_PORT) : 8080)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw CoreErrors.config(`Port "${port}" is not a valid TCP port; give a number from 0 to 65535.`)
  const databaseUrl = env.KURA_DATABASE_URL || `sqlite:${resolve(dataDir, 'catalog.sqlite')}`
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw CoreErrors.config(`KURA_DATABASE_URL must start with postgres:// or sqlite: (got "${databaseUrl.split(':')[0]}:…").`)
  }
  let s3: S3Config | null = null
  if (env.KURA_S3_BUCKET || env.KURA_S3_ENDPOINT) {
    if (!env.KURA_S3_BUCKET) throw CoreErrors.config('KURA_S3_ENDPOINT is set but KURA_S3_BUCKET is not; set the bucket name too.')
    s3 = {
      endpoint: env.KURA_S3_ENDPOINT || undefined,
      bucket: env.KURA_S3_BUCKET,
      region: env.KURA_S3_REGION ?? env.AWS_REGION ?? 'us-east-1',
      accessKeyId: env.KURA_S3_ACCESS_KEY_ID ?? env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.KURA_S3_SECRET_ACCESS_KEY ?? env.AWS_SECRET_ACCESS_KEY,
      forcePathStyle: env.KURA_S3_FORCE_PATH_STYLE !== 'false',
    }
  }
  return {
    host: flags.host ?? env.KURA_HOST ?? '127.0.0.1',
    port,
    dataDir,
    databaseUrl,
    s3,
    publicUrl: env.KURA_PUBLIC_URL || undefined,
    oidc: loadOidc(env),
    tls: loadTls(env),
    jobWorkers: loadJobWorkers(env),
  }
}

function loadJobWorkers(env: NodeJS.ProcessEnv): number {
  const raw = env.KURA_JOB_WORKERS ?? '1'
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > 64) throw CoreErrors.config(`KURA_JOB_WORKERS must be a whole number from 0 to 64 (got "${raw}").`)
  return n
}

/** KURA_OIDC_ISSUER + KURA_OIDC_CLIENT_ID, and the secret from KURA_OIDC_CLIENT_SECRET_FILE (or KURA_OIDC_CLIENT_SECRET). */
function loadOidc(env: NodeJS.ProcessEnv): OidcClientConfig | null {
  if (!env.KURA_OIDC_ISSUER) return null
  if (!env.KURA_OIDC_CLIENT_ID) throw CoreErrors.config('KURA_OIDC_ISSUER is set but KURA_OIDC_CLIENT_ID is not; set the client id registered with the identity provider.')
  const secretFile = env.KURA_OIDC_CLIENT_SECRET_FILE
  let clientSecret = env.KURA_OIDC_CLIENT_SECRET || undefined
  if (secretFile) {
    try {
      clientSecret = readFileSync(secretFile, 'utf8').trim()
    } catch (e) {
      throw CoreErrors.config(`Cannot read KURA_OIDC_CLIENT_SECRET_FILE ${secretFile}: ${(e as Error).message}`)
    }
  }
  return { issuer: env.KURA_OIDC_ISSUER, clientId: env.KURA_OIDC_CLIENT_ID, clientSecret, name: env.KURA_OIDC_NAME || 'Institution sign-in' }
}

/** KURA_TLS_CERT and KURA_TLS_KEY: PEM files; both or neither. */
function loadTls(env: NodeJS.ProcessEnv): HubConfig['tls'] {
  const certFile = env.KURA_TLS_CERT
  const keyFile = env.KURA_TLS_KEY
  if (!certFile && !keyFile) return null
  if (!certFile || !keyFile) throw CoreErrors.config('Set both KURA_TLS_CERT and KURA_TLS_KEY (PEM files) to serve HTTPS, or neither for plain HTTP.')
  return { certFile: resolve(certFile), keyFile: resolve(keyFile) }
}
