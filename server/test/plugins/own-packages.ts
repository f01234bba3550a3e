/**
 * A TypeScript plugin with packages of its own, in its own `node_modules`:
 * an ES module package whose `exports` map `import` and `require` to
 * different files (and a subpath export), which imports a dependency of its
 * own; a CommonJS package; and Node.js built-ins. Its answer shows which file
 * of each was imported.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The logic: answers `<TEXT>! via import, tail, hello neko from cjs, function /`. */
export const OWN_PACKAGES_LOGIC = `import { shout } from 'neko-esm';
import { tail } from 'neko-esm/tail';
import greet from 'neko-cjs';
import { createHash } from 'node:crypto';
import path from 'path';

interface Packet {
  text(): string;
  send(data: string): boolean;
}

export class Logic {
  recv(ctx: Packet): void {
    ctx.send([shout(ctx.text()), tail, greet('neko'), typeof createHash, path.sep].join(', '));
  }
}
`;

/** What the plugin answers to `text`. */
export function ownPackagesAnswer(text: string): string {
  return `${text.toUpperCase()}! via import, tail, hello neko from cjs, function, ${path.sep}`;
}

/** The files of the plugin folder, by path relative to it (spec.conf included). */
export function ownPackagesFiles(greeter: string): Record<string, string> {
  return {
    'spec.conf': `$name {"${greeter}"};\n$greet {"${greeter}"};\n$logic {"logic"};\n$version {"1.0.0"};\n`,
    'logic.ts': OWN_PACKAGES_LOGIC,
    'node_modules/neko-esm/package.json': JSON.stringify({
      name: 'neko-esm',
      version: '1.0.0',
      // Conditions in the order Node.js reads them: `module` (a bundler's) and `browser` are not its own.
      exports: {
        '.': { module: './esm-bundlers.mjs', import: './esm.mjs', require: './esm.cjs' },
        './tail': { browser: './tail-browser.mjs', node: './tail.mjs', default: './tail-browser.mjs' },
      },
    }),
    'node_modules/neko-esm/esm.mjs':
      "import { bang } from 'neko-dep';\nexport const shout = (s) => s.toUpperCase() + bang + ' via import';\n",
    'node_modules/neko-esm/esm.cjs': "exports.shout = () => 'the require file, not the import one';\n",
    'node_modules/neko-esm/tail.mjs': "export const tail = 'tail';\n",
    'node_modules/neko-esm/esm-bundlers.mjs':
      "export const shout = () => 'the module condition, not Node's';\n",
    'node_modules/neko-esm/tail-browser.mjs': "export const tail = 'the browser file, not the node one';\n",
    'node_modules/neko-dep/package.json': JSON.stringify({
      name: 'neko-dep',
      version: '1.0.0',
      type: 'module',
      main: 'index.js',
    }),
    'node_modules/neko-dep/index.js': "export const bang = '!';\n",
    'node_modules/neko-cjs/package.json': JSON.stringify({
      name: 'neko-cjs',
      version: '1.0.0',
      main: 'main.js',
    }),
    'node_modules/neko-cjs/main.js': "module.exports = (name) => 'hello ' + name + ' from cjs';\n",
  };
}

/** Writes the plugin into `dir` (created). */
export async function writeOwnPackagesPlugin(dir: string, greeter: string): Promise<void> {
  for (const [name, content] of Object.entries(ownPackagesFiles(greeter))) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
}
