/** @module The DICOMweb service's public base URL, for RetrieveURL and BulkDataURI values. */
import type { FastifyRequest } from 'fastify'

/** `publicUrl` when configured (behind a proxy), otherwise what the client used to reach us. */
export function serviceBase(req: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '') + '/dicomweb'
  const host = req.headers.host ?? `${req.hostname}`
  return `${req.protocol}://${host}/dicomweb`
}

export const studyUrl = (base: string, study: string) => `${base}/studies/${study}`
export const seriesUrl = (base: string, study: string, series: string) => `${studyUrl(base, study)}/series/${series}`
export const instanceUrl = (base: string, study: string, series: string, sop: string) => `${seriesUrl(base, study, series)}/instances/${sop}`
