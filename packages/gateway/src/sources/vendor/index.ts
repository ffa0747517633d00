/** @module Vendor export folders (CSV/TSV/XML through a declarative adapter) as a gateway source. */
export { VendorExportSource, type VendorExportSourceOptions } from './vendor-export-source.ts'
