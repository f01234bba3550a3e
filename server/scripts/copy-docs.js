// Copies the guides of the repository (docs/*.md and the images they show,
// docs/img/) into server/docs/, so that the nekoconnect package ships them:
// after an install they are in node_modules/nekoconnect/docs/. Part of the
// package's build; server/docs/ is not committed.
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const from = join(import.meta.dirname, '..', '..', 'docs');
const to = join(import.meta.dirname, '..', 'docs');

if (!existsSync(from)) {
  console.error(
    `copy-docs: ${from} does not exist: build nekoconnect from the repository, where the guides are`,
  );
  process.exit(1);
}
rmSync(to, { recursive: true, force: true });
const guides = readdirSync(from).filter((name) => name.endsWith('.md'));
for (const name of guides) cpSync(join(from, name), join(to, name));
if (existsSync(join(from, 'img'))) cpSync(join(from, 'img'), join(to, 'img'), { recursive: true });
console.log(`copy-docs: ${guides.length} guides into ${to}`);
