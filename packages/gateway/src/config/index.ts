/** @module Gateway configuration: the YAML file, its validation and `init`. */
export { loadGatewayConfig, parseGatewayConfig, type GatewayConfig, type DicomSourceConfig, type FolderSourceConfig, type Ssmix2SourceConfig, type VendorExportSourceConfig } from './config.ts'
export { initGatewayConfig, configTemplate, type InitOptions } from './init.ts'
export { parseBytes, parseWindow, rateAt, type TimeWindow } from './units.ts'
export { ConfigErrors, type ConfigProblem } from './errors.ts'
