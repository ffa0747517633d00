/** @module @kura/wsi: slide readers over ByteSource (Aperio SVS, tiled TIFF/BigTIFF), one interface. */
export * from './reader.ts'
export { openSlide, openDicomSlide, FORMATS } from './open.ts'
export { WsiErrors } from './errors.ts'
export { TiffFile, Ifd, type TiffEntry } from './tiff/parser.ts'
export { Tag, FieldType, Compression } from './tiff/tags.ts'
export { spliceJpeg } from './codecs/jpeg.ts'
export { decodeLzw } from './codecs/lzw.ts'
