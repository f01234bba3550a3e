// Bundles the dashboard's page (ui/src/, Preact and TSX) into ui/build/app.js, which the dashboard
// serves at /app.js: one minified ES2022 file and its source map, no eval (the page's CSP allows
// only scripts of its own origin), nothing fetched at run time.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const ui = fileURLToPath(new URL('../ui/', import.meta.url));

await build({
  entryPoints: [`${ui}src/main.tsx`],
  outfile: `${ui}build/app.js`,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
