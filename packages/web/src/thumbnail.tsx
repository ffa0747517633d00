/** @module A lazily loaded DICOMweb thumbnail; a study without a renderable image shows an empty frame. */
import { useState } from 'react'

export function Thumbnail({ src, size = 64 }: { src: string; size?: number }) {
  const [failed, setFailed] = useState(false)
  // alt="": the row's text already names the study; the picture adds nothing a screen reader could say.
  if (failed) return <span className="thumb thumb-empty" style={{ width: size, height: size }} aria-hidden="true" />
  return <img className="thumb" src={src} alt="" width={size} height={size} loading="lazy" decoding="async" onError={() => setFailed(true)} />
}
