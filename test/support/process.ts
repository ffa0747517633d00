/** @module `kura hub` as a separate process, for multi-process and memory tests. */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { TestBackendConfig } from './backend.ts'

const KURA = join(import.meta.dirname, '..', '..', 'packages', 'cli', 'bin', 'kura.js')

/** Starts `kura hub` as its own process on the given backend; resolves once /healthz answers. */
export async function startHubProcess(env: TestBackendConfig): Promise<{ url: string; child: ChildProcess }> {
  const { config } = env
  const child = spawn(process.execPath, [KURA, 'hub', '--data', config.dataDir, '--port', '0', '--host', '127.0.0.1'], {
    env: {
      ...process.env,
      KURA_DATABASE_URL: config.databaseUrl,
      ...(config.s3
        ? {
            KURA_S3_ENDPOINT: config.s3.endpoint,
            KURA_S3_BUCKET: config.s3.bucket,
            KURA_S3_REGION: config.s3.region,
            KURA_S3_ACCESS_KEY_ID: config.s3.accessKeyId,
            KURA_S3_SECRET_ACCESS_KEY: config.s3.secretAccessKey,
          }
        : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stderr!.on('data', (d) => (err += d))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start in 30 s: ${err}`)), 30_000)
    child.stdout!.on('data', (d) => {
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.on('exit', (code) => reject(new Error(`hub exited with ${code}: ${err}`)))
  })
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`${url}/healthz`).catch(() => null))?.status === 200) break
    await new Promise((r) => setTimeout(r, 100))
  }
  return { url, child }
}


/** Resident set size of a process in bytes (Linux). */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}

export async function stopHubProcess(p: { child: ChildProcess } | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null) return
  p.child.kill('SIGTERM')
  await new Promise((r) => p.child.once('exit', r))
}
