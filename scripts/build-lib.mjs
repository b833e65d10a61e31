// `npm run build:lib` (and prepack): compiles src/ and the worker to lib/ with tsc, then points the worker URL at
// the compiled file. tsc rewrites import specifiers ending in .ts, but not the string in
// `new Worker(new URL('…/engine.worker.ts', import.meta.url))`, which bundlers (Vite, webpack 5) follow.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const lib = join(root, 'lib');
rmSync(lib, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.lib.json')], { stdio: 'inherit' });

const ASSET_URL = /new URL\((['"])(\.{1,2}\/[^'"]+?)\.ts\1, import\.meta\.url\)/g;
for (const file of readdirSync(lib, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'))) {
  const path = join(lib, file);
  const source = readFileSync(path, 'utf8');
  const rewritten = source.replace(ASSET_URL, (_match, quote, target) => {
    if (!existsSync(resolve(dirname(path), `${target}.js`))) throw new Error(`${file}: new URL('${target}.ts') has no compiled ${target}.js`);
    return `new URL(${quote}${target}.js${quote}, import.meta.url)`;
  });
  if (rewritten !== source) writeFileSync(path, rewritten);
}
