/** @module Errors raised by the site's re-identification table: stable DEID_REID_* codes with messages that say what to do. Messages never carry a patient identifier or a pseudonym. */
import { KuraError } from '@kura/core'

const keyHint = (keyFile: string | undefined, fingerprint: string): string =>
  keyFile === undefined ? `the operator key with fingerprint ${fingerprint}` : `the operator key file ${keyFile} (key fingerprint ${fingerprint})`

export const ReidErrors = {
  wrongKey: (path: string, expected: { keyFile?: string; fingerprint: string }, given: string) =>
    new KuraError(
      'DEID_REID_WRONG_KEY',
      `The re-identification table ${path} was not sealed with this key (fingerprint ${given}). Open it with ${keyHint(expected.keyFile, expected.fingerprint)}; if that key still fails, the table's key-check row is damaged — restore the table from backup.`,
      { status: 403, details: { path, expectedKeyFile: expected.keyFile, expectedFingerprint: expected.fingerprint, givenFingerprint: given } },
    ),
  tampered: (path: string, collection: string) =>
    new KuraError(
      'DEID_REID_TAMPERED',
      `A row of the re-identification table ${path} (collection "${collection.slice(0, 64)}") failed its integrity check: it was altered, swapped or corrupted. Do not trust this table; restore it from backup and investigate who had write access.`,
      { status: 500, details: { path, collection } },
    ),
  conflict: (path: string, collection: string) =>
    new KuraError(
      'DEID_REID_CONFLICT',
      `The re-identification table ${path} already links this pseudonym in collection "${collection.slice(0, 64)}" to a different patient. Two patients mapping to one pseudonym means the site secret or the collection name changed; stop uploads and check the gateway's key configuration.`,
      { status: 409, details: { path, collection } },
    ),
  badKey: (bytes: number) =>
    new KuraError('DEID_REID_BAD_KEY', `An operator key of ${bytes} bytes was passed; at least 32 are needed. Load it with loadSecret from a 0600 key file.`, {
      status: 500,
      details: { bytes },
    }),
  badEntry: (field: string) =>
    new KuraError('DEID_REID_BAD_ENTRY', `Re-identification entry field "${field}" must be a non-empty string.`, { status: 400, details: { field } }),
  insecureFile: (path: string, mode: number) =>
    new KuraError(
      'DEID_REID_INSECURE_FILE',
      `The re-identification table ${path} is accessible by group or others (mode ${(mode & 0o777).toString(8).padStart(3, '0')}). Run \`chmod 600 ${path}\` and keep it owned by the gateway user.`,
      { status: 500, details: { path, mode: mode & 0o777 } },
    ),
  unreadable: (path: string, cause: unknown) =>
    new KuraError(
      'DEID_REID_UNREADABLE',
      `Cannot open the re-identification table ${path} as a Kura re-identification database. Check the path; it must be a file created by ReidTable.open.`,
      { status: 500, cause, details: { path } },
    ),
  missing: (path: string) =>
    new KuraError('DEID_REID_MISSING', `There is no re-identification table at ${path}. Give the --reid file that "kura deid --reid" wrote.`, { status: 404, details: { path } }),
  auditUnwritable: (path: string, cause: unknown) =>
    new KuraError('DEID_REID_AUDIT_UNWRITABLE', `Cannot append to the lookup audit log ${path}, so the lookup was not done. Check that the folder is writable by this user.`, {
      status: 500,
      cause,
      details: { path },
    }),
  auditUnreadable: (path: string, cause: unknown) =>
    new KuraError('DEID_REID_AUDIT_UNREADABLE', `Cannot read the lookup audit log ${path}. Check the path and permissions.`, { status: 500, cause, details: { path } }),
  closed: () => new KuraError('DEID_REID_CLOSED', 'The re-identification table has been closed; open it again.', { status: 500 }),
} as const
