/**
 * @module @kura/storage/testing: real backends for tests in any package — an S3 server
 * (s3rver) and catalogs on SQLite and PostgreSQL. Never imported by production code.
 */
export { startTestS3, type TestS3 } from './s3-server.ts'
export {
  openTestCatalog,
  createTestDatabase,
  testEngines,
  describeEachEngine,
  postgresUnavailable,
  TEST_POSTGRES_URL,
  type TestCatalog,
  type TestDatabase,
} from './test-catalog.ts'
export { testInstanceRecord } from './records.ts'
