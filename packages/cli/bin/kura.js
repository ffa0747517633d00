#!/usr/bin/env -S node --initial-old-space-size=128
// The `kura` command. TypeScript sources run through tsx's loader, so there is no build step.
//
// --initial-old-space-size=128: the gateway and the hub keep a small heap (≈ 20 MB live) through which every
// object's buffers and records pass; with V8's default limits for so small a heap, a full collection ran about
// twice a second (74 in a 6,000-instance gateway run) and took a quarter of the gateway's CPU. With a 128 MB
// starting limit: 6 in the same run, gateway 1.98 → 1.50 ms CPU per instance, RSS ≈ 30 MB more. Flags on this
// line reach every `npx kura …` (and npm scripts); launching node on this file directly, pass them yourself.
import { register } from 'tsx/esm/api'
register()
await import('../src/main.ts')
