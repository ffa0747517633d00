/**
 * @module Fake slide labels and macro images: identifiers drawn as text (sharp renders SVG),
 * so de-identification has something real to find and remove. The identifiers are made up.
 */
import sharp from 'sharp'
import { tissueRgb } from './tissue.ts'

export const DEFAULT_LABEL_TEXT = '山田 太郎 ID 12345678'

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** A white label with the text and a fake case number, as RGB. */
export async function labelRgb(width: number, height: number, text: string): Promise<Uint8Array> {
  const fs = Math.round(Math.min(height / 8, width / (Math.max(12, [...text].length) * 0.9)))
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<rect width="100%" height="100%" fill="#fafaf5"/>
<text x="${fs / 2}" y="${fs * 2}" font-size="${fs}" font-family="sans-serif" fill="#111">${escapeXml(text)}</text>
<text x="${fs / 2}" y="${fs * 4}" font-size="${fs}" font-family="sans-serif" fill="#111">S26-0042 HE</text>
<rect x="${fs / 2}" y="${fs * 5}" width="${width - fs}" height="${fs * 2}" fill="none" stroke="#111" stroke-width="3"/>
</svg>`
  const { data } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  return new Uint8Array(data.buffer, data.byteOffset, width * height * 3)
}

/** A macro photograph: the label on the left third, the slide's tissue (downsampled) on the right. */
export async function macroRgb(width: number, height: number, text: string, slideWidth: number, slideHeight: number, seed: number): Promise<Uint8Array> {
  const labelW = Math.round(width / 3)
  const label = await labelRgb(labelW, height, text)
  const out = new Uint8Array(width * height * 3).fill(200)
  for (let y = 0; y < height; y++) out.set(label.subarray(y * labelW * 3, (y + 1) * labelW * 3), y * width * 3)
  const areaW = width - labelW
  const ds = Math.max(slideWidth / areaW, slideHeight / height)
  const tw = Math.min(areaW, Math.floor(slideWidth / ds))
  const th = Math.min(height, Math.floor(slideHeight / ds))
  const tissue = new Uint8Array(tw * th * 3)
  tissueRgb(tissue, 0, 0, tw, th, ds, seed)
  for (let y = 0; y < th; y++) out.set(tissue.subarray(y * tw * 3, (y + 1) * tw * 3), (y * width + labelW) * 3)
  return out
}
