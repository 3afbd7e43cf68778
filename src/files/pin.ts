/**
 * Pinned inputs (CONTRACT §8): a task's reference media are copied into the store at submit, and
 * the upstream is handed the gateway's URL, so the provider renders exactly the bytes that were
 * probed and priced (a media server cannot show the probe a 3 s clip and the provider a 30 s one).
 *
 * Best effort: media that cannot be copied (unreachable, too big, a type the store does not take)
 * keep their own URL and are probed remotely as before; the engine's mismatch check covers those.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { UrlGuard } from '../net/ssrf.ts';
import { downloadInto } from './download.ts';
import type { FileStore } from './store.ts';

/** What pinning needs from the engine. */
export interface PinDeps {
  files: FileStore;
  guard: UrlGuard;
  config: Config;
  log: Logger;
  now: () => number;
}

/** Copy `url` into the store for `keyId` and return the gateway URL (or `url` itself when it cannot be pinned). */
export async function pinInput(deps: PinDeps, keyId: string, url: string): Promise<string> {
  if ((await deps.files.lookupUrl(url)).kind !== 'foreign') return url; // already ours
  // A copy pinned moments ago serves again (as the remote probe's cache would answer again): the
  // quote and the upstream still see the same bytes.
  // The smallest id a file created at that moment can have (src/ids.ts: prefix, then base-36 time).
  const since = `file_${(deps.now() - deps.config.media.cache_ttl_ms).toString(36).padStart(9, '0')}`;
  const recent = await deps.files.recentInput(keyId, url, since);
  if (recent) return deps.files.urlOf(recent) ?? url;
  try {
    const row = await downloadInto(url, {
      guard: deps.guard,
      files: deps.files,
      timeoutMs: deps.config.files.download_timeout_ms,
      meta: { keyId, purpose: 'input', maxBytes: deps.config.files.max_bytes, upstreamUrl: url },
    });
    return deps.files.urlOf(row) ?? url;
  } catch (err) {
    deps.log.info({ url, err: (err as Error).message }, 'input not pinned; the upstream fetches it itself');
    return url;
  }
}
