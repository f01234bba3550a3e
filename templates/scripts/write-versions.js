// Build step: copies the versions of the workspace packages a generated
// project depends on into dist/versions.json, so that a published copy of
// @nekoconnect/templates (which has no sibling folders) still knows them.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const versionOf = (folder) =>
  JSON.parse(readFileSync(join(root, '..', folder, 'package.json'), 'utf8')).version;

const versions = { nekoconnect: versionOf('server'), '@nekoconnect/testing': versionOf('testing') };
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist', 'versions.json'), `${JSON.stringify(versions, null, 2)}\n`);
