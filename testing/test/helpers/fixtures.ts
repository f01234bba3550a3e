import { join } from 'node:path';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
/** A plugins directory: probe and upper. */
export const PLUGINS_DIR = join(FIXTURES, 'plugins');
/** The probe plugin folder (greeter `probe`). */
export const PROBE = join(PLUGINS_DIR, 'probe');
/** A plugins directory whose `broken` plugin throws on import, next to a good `upper`. */
export const WITH_BROKEN = join(FIXTURES, 'with-broken');
