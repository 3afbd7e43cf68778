#!/usr/bin/env node
/**
 * Compile the gateway to plain JavaScript in dist/ so `npm start` runs under `node` with no
 * TypeScript loader. esbuild bundles our own modules (the source imports `.ts` specifiers, which
 * a bundler resolves as written) and leaves every npm package external, loaded from node_modules.
 * It does not type-check: that is `npm run typecheck`, kept separate so a build never waits on it.
 *
 *   node scripts/build.mjs            build
 *   node scripts/build.mjs --if-stale build only when a source file is newer than the output
 *
 * Run by `npm install`/`npm ci` (the `prepare` script) and by `npm start` (--if-stale).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'dist');
/** Entry points: source path → output name (dist/<name>.js). Add a line for a new executable. */
const ENTRIES = { main: 'src/main.ts', cli: 'src/cli/main.ts', 'report-worker': 'src/reports/worker.ts' };
/** What a build reads: a change under any of these makes dist/ stale. */
const INPUTS = ['src', 'providers', 'package.json', 'scripts/build.mjs'];

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

function entries() {
  return Object.fromEntries(Object.entries(ENTRIES).filter(([, src]) => existsSync(join(ROOT, src))));
}

function stale() {
  const built = Object.keys(entries()).map((name) => join(OUT, `${name}.js`));
  if (built.some((f) => !existsSync(f))) return true;
  const oldestOutput = Math.min(...built.map((f) => statSync(f).mtimeMs));
  return INPUTS.some((p) => newestMtime(join(ROOT, p)) > oldestOutput);
}

async function build() {
  const { build: esbuild } = await import('esbuild');
  const entryPoints = entries();
  await esbuild({
    absWorkingDir: ROOT,
    entryPoints,
    outdir: OUT,
    bundle: true,
    // Every npm package stays a runtime import from node_modules (native addons, worker files).
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
  process.stderr.write(`reelroute: built ${Object.values(entryPoints).join(', ')} → ${relative(process.cwd(), OUT) || OUT}\n`);
}

if (!process.argv.includes('--if-stale') || stale()) await build();
