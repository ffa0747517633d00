/** @module Vite build of the browser application; `npm run dev -w @kura/web` proxies data routes to a hub on :8080. */
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// The browser tsconfig has no Node types; this file runs in Node under Vite.
declare const process: { env: Record<string, string | undefined> }
const hub = process.env.KURA_HUB_URL ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, assetsDir: 'assets', sourcemap: false, target: 'es2022' },
  server: { proxy: Object.fromEntries(['/api', '/dicomweb', '/iiif', '/slides', '/healthz'].map((p) => [p, hub])) },
})
