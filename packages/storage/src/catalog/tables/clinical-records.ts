/** @module Catalog tables: De-identified clinical records and their index for search (migration 000009). */


export interface ClinicalRecordTables {}
