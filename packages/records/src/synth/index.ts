/** @module @kura/records/synth: generators of SS-MIX2 trees and vendor exports for tests and benchmarks. */
export {}
