/** @module Errors of the uploader: GATEWAY_UPLOAD_* codes, each saying what the operator should do. */
import { KuraError } from '@kura/core'

export const UploadErrors = {
  auth: (status: number, url: string) =>
    new KuraError('GATEWAY_UPLOAD_AUTH', status === 401
      ? `The hub at ${url} refused the gateway's token (401). The token in hub.tokenFile is wrong, expired or revoked: put a valid site_uploader token there; uploads resume when the file changes.`
      : `The hub at ${url} says the gateway's token may not upload into this collection (403). Ask the hub's administrator for study:write on the collection; uploads resume when the token file changes.`, { status }),
  tokenFile: (path: string, cause: unknown) =>
    new KuraError('GATEWAY_UPLOAD_TOKEN_FILE', `The token file ${path} cannot be read or is empty. Put the hub token (kura_...) in it; uploads resume when it is readable.`, { status: 401, cause }),
  hubFull: (url: string) =>
    new KuraError('GATEWAY_UPLOAD_HUB_FULL', `The hub at ${url} has no space left (507). Everything stays queued here; tell the hub's operator. Uploads retry every few minutes.`, { status: 507 }),
  http: (what: string, status: number, body: string) =>
    new KuraError('GATEWAY_UPLOAD_HTTP', `${what} answered ${status}${body ? `: ${body.slice(0, 200)}` : ''}. Will retry.`, { status: 502 }),
  network: (what: string, cause: unknown) =>
    new KuraError('GATEWAY_UPLOAD_NETWORK', `${what} failed: ${(cause as Error)?.message ?? String(cause)}. The link to the hub is down or slow; will resume.`, { status: 503, cause }),
  protocol: (what: string) =>
    new KuraError('GATEWAY_UPLOAD_PROTOCOL', `The hub broke the upload protocol: ${what}. Check that hub.url points at a Kura hub (docs/upload-protocol.md); will retry.`, { status: 502 }),
} as const
