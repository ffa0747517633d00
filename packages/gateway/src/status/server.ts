/** @module Local status endpoint: `/status` (JSON) and `/metrics` (Prometheus) on the loopback interface. */
import { createServer, type Server } from 'node:http'
import type { GatewayStatus } from './status.ts'
import { toPrometheus } from './status.ts'

export interface StatusServer {
  port: number
  close(): Promise<void>
}

export async function startStatusServer(host: string, port: number, read: () => GatewayStatus): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    try {
      const path = (req.url ?? '/').split('?')[0]
      if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET' }).end(); return }
      if (path === '/status') {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(read(), null, 1))
      } else if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(toPrometheus(read()))
      } else res.writeHead(404, { 'content-type': 'text/plain' }).end('try /status or /metrics\n')
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`status unavailable: ${(e as Error).message}\n`)
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const addr = server.address()
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}
