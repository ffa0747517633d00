/** @module Migration 000007: vocabularies, codes, annotations and image-level labels. */
import type { Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

export async function up(_db: Kysely<any>, _env: MigrationEnv): Promise<void> {}
