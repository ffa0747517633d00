/** @module Waiting and link faults for end-to-end tests: a polling `until`, and a loopback proxy that cuts uploads. */
import { createServer, connect, type Server, type Socket } from 'node:net'

/** Polls `cond` every 100 ms until it holds; fails after `ms` with what was awaited (and `state()`, if given). */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000, state?: () => unknown): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${state ? `; now: ${JSON.stringify(await state())}` : ''}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export interface CuttingProxy {
  port: number
  url: string
  /** Connections cut so far. */
  cut: () => number
  close: () => Promise<void>
}

/**
 * A loopback TCP proxy to `targetPort` that cuts connections mid-request: each of the first `cuts` connections
 * that has carried more than `afterBytes` upstream is destroyed part-way through a write.
 */
export async function cuttingProxy(targetPort: number, afterBytes: number, cuts: number): Promise<CuttingProxy> {
  let done = 0
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const up = connect(targetPort, '127.0.0.1')
    sockets.add(client).add(up)
    let n = 0
    client.on('data', (d: Buffer) => {
      if (done < cuts && n + d.length > afterBytes) {
        up.write(d.subarray(0, Math.max(0, afterBytes - n)))
        done++
        client.destroy()
        up.destroy()
        return
      }
      n += d.length
      up.write(d)
    })
    up.on('data', (d) => client.write(d))
    const end = () => { client.destroy(); up.destroy() }
    client.on('error', end).on('close', end)
    up.on('error', end).on('close', end)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    cut: () => done,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()) }),
  }
}
