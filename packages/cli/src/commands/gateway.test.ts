import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { smallStudies } from '../../../gateway/src/pipeline/testkit.ts'

const MODULE = new URL('./gateway.ts', import.meta.url).href
/** Runs `kura gateway <args>` through this module (whether or not main.ts has registered the verb yet). */
const RUNNER = `const m = await import(${JSON.stringify(MODULE)}); const { isKuraError } = await import(${JSON.stringify(import.meta.resolve('@kura/core'))});
try { process.exitCode = await m.run(JSON.parse(process.argv[1])) } catch (e) { process.stderr.write(String(isKuraError(e) ? e.message + ' [' + e.code + ']' : e.stack) + '\\n'); process.exitCode = e?.code === 'CLI_USAGE' ? 2 : 1 }`
const TSX = import.meta.resolve('tsx')
const args = (a: string[]) => ['--import', TSX, '--input-type=module', '-e', RUNNER, JSON.stringify(a)]
const gateway = (cwd: string, ...a: string[]) => spawnSync(process.execPath, args(a), { cwd, encoding: 'utf8' })

test('kura gateway init writes a working config and secret; status reads the outbox; the gateway runs and stops on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-gwcli-'))
  try {
    writeFileSync(join(dir, 'token'), 'kura_placeholder\n')
    mkdirSync(join(dir, 'drop'))
    let r = gateway(dir, 'init', '--hub', 'http://127.0.0.1:9', '--token-file', 'token', '--collection', 'c1', '--site', 's1', '--dicom-port', '0', '--spool', 'spool', '--out', 'gateway.yaml', '--folder', 'drop', '--status-port', '0')
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /Created the site secret/)
    assert.ok(existsSync(join(dir, 'site-secret.key')))
    assert.match(readFileSync(join(dir, 'gateway.yaml'), 'utf8'), /tokenFile: "token"/)
    r = gateway(dir, 'init', '--hub', 'http://127.0.0.1:9')
    assert.equal(r.status, 2)
    assert.match(r.stderr, /needs --token-file, --collection, --site, --dicom-port, --spool, --out/)
    r = gateway(dir, 'status')
    assert.equal(r.status, 2)
    assert.match(r.stderr, /has not run yet/)

    // Run it: a dropped file is taken and de-identified; the hub (port 9: nothing there) is down, so it waits.
    writeFileSync(join(dir, 'drop', 'a.dcm'), smallStudies(1, 1, 1)[0]!.bytes)
    const child = spawn(process.execPath, args(['--config', 'gateway.yaml']), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KURA_LOG_LEVEL: 'error' } })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    const deadline = Date.now() + 30_000
    while (!/status on http:\/\/127\.0\.0\.1:(\d+)/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`gateway did not start: ${out}`)
      await new Promise((res) => setTimeout(res, 100))
    }
    const port = Number(/status on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1])
    let status: { totals: Record<string, { count: number }>; running: unknown; lastErrors: Array<{ message: string }> } | null = null
    while (Date.now() < deadline) {
      status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as typeof status
      if (status!.totals.retry!.count === 1) break
      await new Promise((res) => setTimeout(res, 200))
    }
    assert.equal(status!.totals.retry!.count, 1, JSON.stringify(status))
    assert.ok(status!.running)
    assert.ok(status!.lastErrors.some((e) => /Creating an upload failed: .*ECONNREFUSED/.test(e.message)), JSON.stringify(status!.lastErrors))
    const exited = new Promise<number | null>((res) => child.on('close', (c) => res(c)))
    child.kill('SIGTERM')
    assert.equal(await exited, 0)

    // Stopped: status reads the outbox.
    r = gateway(dir, 'status')
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /not running \(read from the outbox\)/)
    assert.match(r.stdout, /folder:.*drop\s+1/)
    assert.match(r.stdout, /Waiting for the hub: 1 /)
    assert.match(r.stdout, /Quarantined .*: 0/)
    r = gateway(dir, 'status', '--json')
    assert.equal(JSON.parse(r.stdout).waiting.count, 1)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
