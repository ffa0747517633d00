/**
 * @module TIFF tag numbers, field types and compression codes that the slide readers use.
 *
 * Names follow the TIFF 6.0 spec and libtiff; vendor tags cite where they come from.
 */

export const Tag = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  DocumentName: 269,
  ImageDescription: 270,
  Make: 271,
  Model: 272,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  XResolution: 282,
  YResolution: 283,
  PlanarConfiguration: 284,
  ResolutionUnit: 296,
  Software: 305,
  DateTime: 306,
  Artist: 315,
  HostComputer: 316,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SubIFDs: 330,
  SampleFormat: 339,
  JPEGTables: 347,
  YCbCrSubsampling: 530,
  XMP: 700,
  ImageDepth: 32997,
  ICCProfile: 34675,
  /** Hamamatsu NDPI private tags start here (65420 = NDPI_FORMAT_FLAG); seen in every NDPI IFD. */
  NdpiFormatFlag: 65420,
} as const

/** TIFF 6.0 field types plus BigTIFF's LONG8/SLONG8/IFD8. */
export const FieldType = {
  BYTE: 1,
  ASCII: 2,
  SHORT: 3,
  LONG: 4,
  RATIONAL: 5,
  SBYTE: 6,
  UNDEFINED: 7,
  SSHORT: 8,
  SLONG: 9,
  SRATIONAL: 10,
  FLOAT: 11,
  DOUBLE: 12,
  IFD: 13,
  LONG8: 16,
  SLONG8: 17,
  IFD8: 18,
} as const

/** Bytes per value of each field type; types not listed are unknown and their entries are skipped (TIFF 6.0 §2). */
export const FIELD_TYPE_SIZE: Readonly<Record<number, number>> = {
  1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8,
}

export const Compression = {
  None: 1,
  LZW: 5,
  OldJPEG: 6,
  JPEG: 7,
  AdobeDeflate: 8,
  Deflate: 32946,
  PackBits: 32773,
  /** Aperio JPEG 2000 with YCbCr components (OpenSlide: openslide-vendor-aperio.c). */
  AperioJp2kYCbCr: 33003,
  /** Aperio JPEG 2000 with RGB components. */
  AperioJp2kRGB: 33005,
  JPEG2000: 34712,
  WebP: 50001,
  JPEGXL: 50002,
} as const

export const Photometric = { MinIsWhite: 0, MinIsBlack: 1, RGB: 2, Palette: 3, YCbCr: 6 } as const

export function compressionName(code: number): string {
  switch (code) {
    case Compression.None: return 'uncompressed'
    case Compression.LZW: return 'LZW'
    case Compression.OldJPEG: return 'old-style JPEG'
    case Compression.JPEG: return 'JPEG'
    case Compression.AdobeDeflate:
    case Compression.Deflate: return 'deflate'
    case Compression.PackBits: return 'PackBits'
    case Compression.AperioJp2kYCbCr: return 'Aperio JPEG 2000 (YCbCr)'
    case Compression.AperioJp2kRGB: return 'Aperio JPEG 2000 (RGB)'
    case Compression.JPEG2000: return 'JPEG 2000'
    case Compression.WebP: return 'WebP'
    case Compression.JPEGXL: return 'JPEG XL'
    default: return 'unknown'
  }
}
