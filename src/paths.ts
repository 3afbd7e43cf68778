/**
 * Where the package lives on disk. Code that reads files shipped with the package (migrations,
 * dashboard assets, docs assets) resolves them from here, never from its own module's location:
 * the same module runs from `src/` (tsx, tests) and bundled into `dist/` (npm start), and a path
 * relative to `import.meta.url` would differ between the two.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder at or above `from` that holds a package.json. */
export function findPackageRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
}

/** Absolute path of the reelroute package (the folder with its package.json). */
export const packageRoot: string = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** Absolute path of a file or folder shipped with the package, e.g. `packagePath('migrations')`. */
export function packagePath(...segments: string[]): string {
  return join(packageRoot, ...segments);
}
