/** @module Errors raised by the keyed pseudonymisation and date-shift code: stable DEID_KEY_* codes with messages that say what to do. */
import { KuraError } from '@kura/core'

/** Long or hostile values are cut so that a log line never carries a whole identifier. */
const clip = (s: string, n = 32): string => (s.length > n ? `${s.slice(0, n)}…` : s)

export const KeyErrors = {
  unreadable: (path: string, cause: unknown) =>
    new KuraError('DEID_KEY_UNREADABLE', `Cannot read the site secret at ${path}. Check the path, or create one with writeSecretFile (kura deid keygen).`, {
      status: 500,
      cause,
      details: { path },
    }),
  insecureFile: (path: string, mode: number) =>
    new KuraError(
      'DEID_KEY_INSECURE_FILE',
      `The site secret ${path} is readable by group or others (mode ${(mode & 0o777).toString(8).padStart(3, '0')}). Run \`chmod 600 ${path}\` and keep it owned by the gateway user.`,
      { status: 500, details: { path, mode: mode & 0o777 } },
    ),
  tooShort: (path: string, bytes: number) =>
    new KuraError(
      'DEID_KEY_TOO_SHORT',
      `The site secret ${path} holds ${bytes} bytes of key material; at least 32 are needed. Generate a new one with writeSecretFile (32 random bytes).`,
      { status: 500, details: { path, bytes } },
    ),
  secretTooShort: (bytes: number) =>
    new KuraError('DEID_KEY_TOO_SHORT', `A site secret of ${bytes} bytes was passed; at least 32 are needed. Use loadSecret or generateSecret.`, {
      status: 500,
      details: { bytes },
    }),
  exists: (path: string) =>
    new KuraError(
      'DEID_KEY_EXISTS',
      `${path} already exists; a site secret is never overwritten, because every pseudonym made with it would stop linking. Move it away deliberately or choose another path.`,
      { status: 409, details: { path } },
    ),
  badCollection: (collection: string) =>
    new KuraError('DEID_KEY_BAD_COLLECTION', `"${clip(collection)}" is not a usable collection name. Pass a non-empty name without "/".`, {
      status: 400,
    }),
  badRange: (min: number, max: number) =>
    new KuraError(
      'DEID_KEY_BAD_RANGE',
      `Date shift range ${min}..${max} is unusable. Pass whole numbers with min <= max, neither range empty of non-zero days, e.g. { min: -365, max: -1 }.`,
      { status: 400, details: { min, max } },
    ),
  badDate: (vr: string, value: string, why: string) =>
    new KuraError(
      'DEID_KEY_BAD_DATE',
      `"${clip(value, 24)}" is not a valid ${vr} value (${why}); remove the attribute or replace it with a dummy value.`,
      { status: 400, details: { vr } },
    ),
} as const
