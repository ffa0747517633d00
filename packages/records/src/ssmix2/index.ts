/** @module SS-MIX2 standardized storage: file names, the streaming tree reader, and the mapping to standard records. */
export { readSsmix2Tree, readSsmix2File, heldRecord, type Ssmix2Item, type Ssmix2Status, type ReadSsmix2Options } from './tree.ts'
export { parseSsmix2FileName, formatSsmix2FileName, ssmix2Directory, timestampKey, type Ssmix2FileName, type FileNameResult } from './file-name.ts'
export { SSMIX2_DATA_TYPES, ssmix2DataType, type Ssmix2DataType, type Ssmix2Domain } from './data-types.ts'
export { toClinicalRecords, readIdentity, endoscopyExamType, groupFromText, OBX_CODES, type MappingInput, type MappingResult } from './mapping.ts'
