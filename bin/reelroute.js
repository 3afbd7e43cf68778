#!/usr/bin/env node
// The `reelroute` command (package.json `bin`), runnable under plain node: it loads the compiled CLI
// (dist/cli.js, built by `npm run build`) when it is there and newer than the CLI's sources, and
// otherwise the TypeScript source through tsx (a dependency), so `npx reelroute` works in a fresh
// checkout too.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli.js');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(path).reduce((m, name) => Math.max(m, newest(join(path, name))), st.mtimeMs);
}

const fresh = existsSync(compiled) && statSync(compiled).mtimeMs >= Math.max(newest(join(root, 'src', 'cli')), newest(join(root, 'src', 'http', 'csv.ts')));
if (fresh) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
