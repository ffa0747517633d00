/** @module The adapters shipped with Kura (designed example layouts, not real vendor formats), by name. */
import { fileURLToPath } from 'node:url'
import { loadAdapter, type Adapter } from './adapter.ts'

export const SHIPPED_ADAPTERS = ['vendor-a-csv', 'vendor-b-xml'] as const
export type ShippedAdapterName = (typeof SHIPPED_ADAPTERS)[number]

/** The path of a shipped adapter's YAML file (to copy and adapt). */
export function shippedAdapterPath(name: ShippedAdapterName): string {
  return fileURLToPath(new URL(`./shipped/${name}.yaml`, import.meta.url))
}

/** A shipped adapter, loaded. */
export function shippedAdapter(name: ShippedAdapterName): Adapter {
  return loadAdapter(shippedAdapterPath(name))
}
