/**
 * @module Config: the hub's settings, from flags over environment over embedded defaults.
 *
 * Embedded defaults: SQLite catalog and filesystem objects under `dataDir`, in-process jobs.
 * `KURA_DATABASE_URL=postgres://…` and `KURA_S3_*` switch to the shared backends.
 */
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
  }
}
