/** @module Migration 000009: de-identified clinical records and their search index. */
import type { Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

export async function up(_db: Kysely<any>, _env: MigrationEnv): Promise<void> {}
