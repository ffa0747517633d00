/** @module Catalog table: the objects of a slide made of several (a DICOM WSI's instances; migration 000011). */

export interface SlideInstanceTable {
  slide_id: string
  sha256: string
  /** `slides/<sha256>`: content-addressed, so two collections holding the same slide share the objects. */
  object_key: string
  size: number
  sop_instance_uid: string
  /** VOLUME, LABEL, OVERVIEW or THUMBNAIL (Image Type value 3). */
  flavor: string
}

export interface SlideInstanceTables {
  slide_instance: SlideInstanceTable
}
