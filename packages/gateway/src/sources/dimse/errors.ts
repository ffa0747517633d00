/**
 * @module Errors raised by the DICOM network source: stable DIMSE_* codes with messages that say what to do.
 */
import { KuraError } from '@kura/core'

export const DimseErrors = {
  badPdu: (why: string) =>
    new KuraError('DIMSE_BAD_PDU', `The peer sent a malformed DICOM upper-layer PDU (${why}). Check the sending system's DICOM configuration; the association was aborted.`, { status: 400 }),
  badCommand: (why: string) =>
    new KuraError('DIMSE_BAD_COMMAND', `The peer sent a DIMSE command that cannot be read (${why}). Check the sending system; the message was refused.`, { status: 400 }),
  badConfig: (why: string) =>
    new KuraError('DIMSE_CONFIG_INVALID', `The DICOM receiver's configuration is invalid: ${why}. Fix the gateway configuration and restart.`, { status: 500 }),
  listen: (host: string, port: number, cause: unknown) =>
    new KuraError('DIMSE_LISTEN_FAILED', `The DICOM receiver cannot listen on ${host}:${port}. Free the port or choose another one in the gateway configuration.`, { status: 500, cause }),
} as const
