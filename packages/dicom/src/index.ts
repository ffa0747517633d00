/** @module @kura/dicom: DICOM parsing, values and character sets, DICOM JSON, pixel frames and writing. */
export * from './types.ts'
export { Tags, tagOf, keywordOf, vrOf, vmOf, tagHex, tagString, entryOf, isPrivateTag, isPrivateCreator, type DictionaryEntry } from './dictionary.ts'
export { DicomErrors } from './errors.ts'
export { readDicom, readDicomBuffer, DEFAULT_BULK_DATA_THRESHOLD, type ReadOptions } from './reader.ts'
export { TransferSyntax, transferSyntaxInfo, isNativeTransferSyntax, type TransferSyntaxInfo } from './transfer-syntax.ts'
export { decodeText, encodeString, normalizeCharsetTerm } from './charset.ts'
export {
  getElement, getBytes, getItems, getString, getStrings, getNumber, getNumbers, getPersonName, getTags,
  elementText, elementStrings, elementNumbers, elementPersonNames, parsePersonName,
} from './values.ts'
export { toDicomJson, type ToDicomJsonOptions } from './json.ts'
export { writeDicom, encodeFileMeta, KURA_IMPLEMENTATION_CLASS_UID, KURA_IMPLEMENTATION_VERSION_NAME, type WriteElement, type WriteInput, type WriteMeta, type WriteOptions, type WriteValue } from './writer.ts'
export { frameRanges, pixelDataElement, numberOfFrames, type ByteRange } from './frames.ts'
export { toExplicitVrLittleEndian } from './transcode.ts'
export { rewriteDicom, type Edit, type RewritePlan, type RewriteOptions } from './rewrite.ts'
export { encapsulatedValue, type OffsetTable } from './encapsulated.ts'
export { decodeRleFrame, encodeRleFrame, nativeToSegments, segmentsToNative, type RleLayout, type NativeFrameLayout } from './rle.ts'
export { readJpegInfo, subsamplingOf, decodeJpegFrame, encodeJpegFrame, type JpegFrameInfo, type Subsampling, type RawImage, type JpegEncodeOptions } from './jpeg.ts'
