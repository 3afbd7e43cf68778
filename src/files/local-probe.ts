/**
 * The media probe with the gateway's own files first: a URL under the public base is answered from
 * the stored file's header (no HTTP, no SSRF guard); every other URL goes to the remote probe.
 */
import type { MediaProbe, ProbeResult, VideoProbeResult } from '../media/probe.ts';
import { readHeader } from './header.ts';
import type { FileStore } from './store.ts';

/** Wrap `remote` so gateway file URLs are read from disk. */
export function localFirstProbe(files: FileStore, remote: MediaProbe): MediaProbe {
  async function video(url: string): Promise<VideoProbeResult> {
    const found = await files.lookupUrl(url);
    if (found.kind === 'foreign') return remote.video ? remote.video(url) : remote.duration(url);
    if (found.kind === 'gone') return { ok: false, reason: 'the gateway file was deleted or has expired' };
    const row = found.row;
    const dims = (w: number | null, h: number | null) => (w && h ? { width: w, height: h } : {});
    if (row.durationS !== null) return { ok: true, durationS: row.durationS, ...dims(row.width, row.height) };
    const info = await readHeader(files.blobs, row.sha256, row.contentType);
    if (info.durationS === null) return { ok: false, reason: info.reason ?? `no duration in a ${row.contentType} file` };
    return { ok: true, durationS: info.durationS, ...dims(info.width, info.height) };
  }
  return {
    async duration(url: string): Promise<ProbeResult> {
    const r = await video(url);
    return r.ok ? { ok: true, durationS: r.durationS } : r;
    },
    video,
  };
}
