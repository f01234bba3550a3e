/**
 * ts-morph (and the TypeScript it bundles), loaded on first use only: it
 * takes most of a second to load, which `nekoconnect start` must never pay.
 */
import { createRequire } from 'node:module';
import type * as TsMorphModule from 'ts-morph';
import { requireWithCodeCache } from './compile-cache.js';

/** The `ts-morph` module. */
export type TsMorph = typeof TsMorphModule;

/** The TypeScript compiler API, as bundled by ts-morph. */
export type TsApi = TsMorph['ts'];

let loaded: TsMorph | undefined;

/**
 * Loads ts-morph once, with a code cache (see compile-cache.ts). It is
 * required, not imported: ts-morph is CommonJS, and `import` would first
 * scan its large source for export names.
 */
export function tsMorph(): TsMorph {
  loaded ??= requireWithCodeCache(createRequire(import.meta.url), 'ts-morph') as TsMorph;
  return loaded;
}
