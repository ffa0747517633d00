/** @module Migration 000008: annotation tasks, items, members and adjudication. */
import type { Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

export async function up(_db: Kysely<any>, _env: MigrationEnv): Promise<void> {}
