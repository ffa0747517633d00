/**
 * @module Errors raised by the spool: stable SPOOL_* codes with messages that say what to do.
 */
import { KuraError } from '@kura/core'

export const SpoolErrors = {
  lowDiskSpace: (dir: string, free: number, floor: number) =>
    new KuraError('SPOOL_LOW_DISK_SPACE', `The spool at ${dir} has ${free} bytes free, below the configured floor of ${floor}. Free disk space or move the spool; senders are told to retry later.`, {
      status: 507,
      details: { free, floor },
    }),
  writeFailed: (path: string, cause: unknown) =>
    new KuraError('SPOOL_WRITE_FAILED', `Writing ${path} to the spool failed. Check the disk (space, permissions, errors in the system log); the sender was told to retry.`, { status: 507, cause }),
  open: (dir: string, cause: unknown) =>
    new KuraError('SPOOL_OPEN_FAILED', `The spool folder ${dir} cannot be opened or created. Check that it exists and that the gateway may write to it.`, { status: 500, cause }),
} as const
