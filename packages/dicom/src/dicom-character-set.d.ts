/** @module Types for dicom-character-set (the package ships none). */
declare module 'dicom-character-set' {
  export function convertBytes(specificCharacterSet: string | undefined, bytes: Uint8Array, options?: { vr?: string }): string
  export function convertBytesPromise(specificCharacterSet: string | undefined, bytes: Uint8Array, options?: { vr?: string }): Promise<string>
}
