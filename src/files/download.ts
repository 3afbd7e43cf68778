/**
 * Fetch a user-influenced URL into the file store: through the SSRF guard (checked before the
 * request and at every redirect hop; its dispatcher re-checks at connect time), streamed, capped.
 */
import { request } from 'undici';
import type { FileRow } from '../db/schema/index.ts';
import { checkRedirect, type UrlGuard } from '../net/ssrf.ts';
import type { FileStore, PutMeta } from './store.ts';

const MAX_REDIRECTS = 5;

/** A download that failed; `permanent` ones are not worth retrying. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** Options for {@link downloadInto}. */
export interface DownloadOptions {
  guard: UrlGuard;
  files: FileStore;
  /** Headers and idle-body timeout, ms. */
  timeoutMs: number;
  meta: PutMeta;
}

/** Download `url` into the store as a new file of `meta.keyId`. */
export async function downloadInto(url: string, opts: DownloadOptions): Promise<FileRow> {
  let current: URL;
  try {
    current = new URL(url);
    await opts.guard.check(current);
  } catch (err) {
    throw new DownloadError(`refused URL: ${(err as Error).message}`, true);
  }
  for (let hop = 0; ; hop++) {
    const res = await request(current, {
      method: 'GET',
      dispatcher: opts.guard.dispatcher,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      headers: { 'accept-encoding': 'identity' },
    }).catch((err: unknown) => {
      throw new DownloadError(`fetch failed: ${(err as Error).message}`);
    });
    const status = res.statusCode;
    if (status >= 300 && status < 400) {
      await res.body.dump().catch(() => undefined);
      const location = res.headers.location;
      if (typeof location !== 'string') throw new DownloadError(`HTTP ${status} without Location`);
      if (hop >= MAX_REDIRECTS) throw new DownloadError('too many redirects', true);
      try {
        current = (await checkRedirect(opts.guard, current, location)).url;
      } catch (err) {
        throw new DownloadError(`refused redirect: ${(err as Error).message}`, true);
      }
      continue;
    }
    if (status !== 200) {
      await res.body.dump().catch(() => undefined);
      throw new DownloadError(`HTTP ${status}`);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.meta.maxBytes) {
      res.body.on('error', () => undefined);
      res.body.destroy();
      throw new DownloadError(`larger than ${opts.meta.maxBytes} bytes (Content-Length ${declared})`, true);
    }
    try {
      return await opts.files.put(res.body, opts.meta);
    } catch (err) {
      res.body.on('error', () => undefined);
      res.body.destroy();
      const name = (err as Error).name;
      throw new DownloadError((err as Error).message, name === 'TooLargeError' || name === 'UnsupportedTypeError');
    }
  }
}
