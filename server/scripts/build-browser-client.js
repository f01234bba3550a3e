// Builds the browser build of the client SDK, dist/browser/client.js: the
// same modules as nekoconnect/client (one implementation of the protocol),
// bundled by esbuild for browsers, with the Node-only modules replaced by
// those of src/client/browser/ (the WebSocket wire, the hasher on sha256.ts,
// random strings from crypto.getRandomValues, a small EventEmitter and the
// part of Buffer the code uses). Any other `node:` import, or a bare import
// of a Node built-in, fails the build. Part of the package's build (after
// tsc); package.json's exports hand it to bundlers under the `browser`
// condition of "./client".
import { mkdirSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const src = join(root, 'src');
const browser = join(src, 'client', 'browser');
const out = join(root, 'dist', 'browser');

/** Node-only modules of src/ and what the browser build uses instead. */
const SUBSTITUTES = new Map([
  [join(src, 'client', 'wire.ts'), join(browser, 'wire.ts')],
  [join(src, 'protocol', 'hash.ts'), join(browser, 'hash.ts')],
  [join(src, 'protocol', 'random.ts'), join(browser, 'random.ts')],
]);

/** Node built-ins imported by the bundled code, and their browser versions. */
const BUILTINS = new Map([['node:events', join(browser, 'events.ts')]]);

/** The bare names of Node's built-ins (`events`, `crypto`, …), imported without `node:`. */
const BARE_BUILTINS = new Set(builtinModules.filter((name) => !name.startsWith('_')));

/** @type {import('esbuild').Plugin} */
const browserModules = {
  name: 'nekoconnect-browser-modules',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'));
      const substitute = SUBSTITUTES.get(target);
      return substitute ? { path: substitute } : undefined;
    });
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const builtin = BUILTINS.get(args.path);
      if (builtin) return { path: builtin };
      const bare = args.path.replace(/^node:/, '');
      if (args.path.startsWith('node:') || BARE_BUILTINS.has(bare)) {
        return {
          errors: [
            {
              text: `${args.path} is a Node module and cannot go into the browser build (imported by ${args.importer})`,
              detail:
                'Give it a browser version in src/client/browser/ and list it in scripts/build-browser-client.js, or keep the import out of the client.',
            },
          ],
        };
      }
      return {
        errors: [
          {
            text: `${args.path} is a package: the browser build of the client bundles no dependency (imported by ${args.importer})`,
          },
        ],
      };
    });
  },
};

/**
 * Bundles the client for browsers; returns the bundle's size in bytes. The
 * options are exported for the tests, which build it the same way.
 * @type {import('esbuild').BuildOptions}
 */
export const BROWSER_BUILD = {
  entryPoints: [join(src, 'client', 'index.ts')],
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  // `Buffer` in the bundled code is the browser build's own.
  inject: [join(browser, 'buffer.ts')],
  plugins: [browserModules],
  logLevel: 'silent',
};

export async function buildBrowserClient() {
  const result = await build({ ...BROWSER_BUILD, write: false });
  const code = result.outputFiles[0].contents;
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'client.js'), code);
  // The browser build has the API of nekoconnect/client: its typings are the same.
  writeFileSync(join(out, 'client.d.ts'), "export * from '../client/index.js';\n");
  return code.byteLength;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  try {
    const bytes = await buildBrowserClient();
    console.log(`build-browser-client: ${bytes} bytes into ${join(out, 'client.js')}`);
  } catch (err) {
    console.error(`build-browser-client: ${err.message}`);
    process.exit(1);
  }
}
