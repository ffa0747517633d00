/** @module @kura/hub: the hub's HTTP API and archive services. */
export { startHub, type RunningHub } from './server.ts'
export { buildApp, type AppOptions } from './app.ts'
export { openArchive, Archive, objectKeyFor, type IngestResult, type IngestInput } from './archive/archive.ts'
export { routeTable, type Permission, type DeclaredRoute } from './auth/permissions.ts'
