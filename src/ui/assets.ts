/**
 * The dashboard's static files: our own (src/ui/assets) and Chart.js from node_modules, resolved
 * from the package root so the same code serves them from src/ (tsx) and from the dist/ bundle.
 * Only files under these two folders are served; names are checked before any path is built.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Context } from 'hono';
import { packagePath } from '../paths.ts';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** `vendor/<name>` → a file of an npm package (no CDN: every asset ships in this package). */
const VENDOR: Record<string, string> = {
  'chart.umd.min.js': packagePath('node_modules', 'chart.js', 'dist', 'chart.umd.min.js'),
};

const cache = new Map<string, Buffer>();

function resolveAsset(name: string): string | null {
  if (name.startsWith('vendor/')) return VENDOR[name.slice('vendor/'.length)] ?? null;
  // Plain names and one level of views/: no dots but the extension's, so no way out of the folder.
  if (!/^(views\/)?[a-z0-9-]+\.(js|css|svg)$/.test(name)) return null;
  return packagePath('src', 'ui', 'assets', name);
}

/** Answer GET /dashboard/assets/<name> (404 envelope-free: a browser asked for a file). */
export async function serveAsset(c: Context, name: string): Promise<Response> {
  const path = resolveAsset(name);
  if (!path) return c.text('not found', 404);
  let body = cache.get(path);
  if (!body) {
    try {
      body = await readFile(path);
    } catch {
      return c.text('not found', 404);
    }
    cache.set(path, body);
  }
  return c.body(new Uint8Array(body), 200, {
    'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
    // Short: the files change with the package, and there is no fingerprint in their names.
    'cache-control': 'public, max-age=300',
  });
}

