import { readFile } from 'node:fs/promises';
import { NekoError } from '../errors.js';

/** A file of the page, held in memory. */
export interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/** The page's files: everything it needs ships in the package (no CDN; it works offline). */
const FILES: Readonly<Record<string, string>> = {
  '/': 'index.html',
  // The page's script, bundled from ui/src/ by the package's build (scripts/build-ui.js).
  '/app.js': 'build/app.js',
  '/app.js.map': 'build/app.js.map',
  '/app.css': 'app.css',
  '/favicon.svg': 'favicon.svg',
};

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  map: 'application/json; charset=utf-8',
};

/** The folder of the page's files: `ui/` of the package (beside `src/` and `dist/`). */
export const UI_DIR = new URL('../../ui/', import.meta.url);

/**
 * Reads the page's files, by URL path.
 *
 * @throws NekoError `NEKO_ERR_DASHBOARD_ASSETS` when a file is missing (a broken install)
 */
export async function loadAssets(dir: URL = UI_DIR): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const [path, file] of Object.entries(FILES)) {
    const url = new URL(file, dir);
    let body: Buffer;
    try {
      body = await readFile(url);
    } catch (err) {
      throw new NekoError(
        'NEKO_ERR_DASHBOARD_ASSETS',
        `the dashboard page file ${url.pathname} cannot be read`,
        {
          cause: err,
          hint: file.startsWith('build/')
            ? 'The page is not built: run `npm run build` in the nekoconnect repository, or reinstall the package.'
            : 'Reinstall the nekoconnect package: its ui/ folder is incomplete.',
        },
      );
    }
    assets.set(path, { body, type: TYPES[file.slice(file.lastIndexOf('.') + 1)]! });
  }
  return assets;
}
