/**
 * Probe flood (issue 8 #9): 800 concurrent free estimates from 8 keys, each naming its own video on
 * a media server whose 4 MB `moov` trickles in slowly — the case that once took the gateway from
 * 152 MiB to 1,142 MiB. Prints the gateway's RSS before, at its peak and after (GC'd), and how the
 * estimates were answered. The gateway runs in a child process (this file, forked with
 * `--import tsx --expose-gc`) so its RSS is its own.
 *
 * Standalone: `npx tsx bench/probe-flood.ts`; in `npm run bench` as the `probe` section.
 * `PROBE_FLOOD_UNBOUNDED=1` lifts the probe bounds (what the gateway did before them), for comparison.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { forkGatewayChild, MB, serveGatewayChild } from './lib/rss-gateway.ts';

const FLOOD = 800;
const KEYS = 8;
const MOOV_BYTES = 4 * 1024 * 1024;
const ADMIN = 'rr_admin_probe_flood';

/** The result `npm run bench` stores under `probe`. */
export interface ProbeFloodResult {
  estimates: number;
  answered: Record<string, number>;
  seconds: number;
  rss_before_mb: number;
  rss_peak_mb: number;
  rss_after_mb: number;
}

/** ftyp + the header of a moov box of MOOV_BYTES, then zeros: the probe must read all of it. */
function bigMoovFile(): Buffer {
  const file = Buffer.alloc(24 + MOOV_BYTES);
  file.writeUInt32BE(24, 0);
  file.write('ftypisom', 4, 'latin1');
  file.writeUInt32BE(MOOV_BYTES, 24);
  file.write('moov', 28, 'latin1');
  return file;
}

/** Serves the file by ranges: the first 64 KiB at once, anything later at 640 KiB/s (a 4 MB moov takes ~6 s). */
async function slowMediaServer() {
  const file = bigMoovFile();
  const server = createServer((req, res) => {
    const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = Math.min(m ? Number(m[2]) : file.length - 1, file.length - 1);
    res.writeHead(206, { 'content-type': 'video/mp4', 'content-range': `bytes ${start}-${end}/${file.length}`, 'content-length': end - start + 1 });
    if (start === 0) return void res.end(file.subarray(start, end + 1));
    let pos = start;
    const timer = setInterval(() => {
      const next = Math.min(pos + 64 * 1024, end + 1);
      res.write(file.subarray(pos, next));
      pos = next;
      if (pos > end) {
        clearInterval(timer);
        res.end();
      }
    }, 100);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => { server.closeAllConnections(); server.close(); } };
}

/** Child: a gateway with the default limits, on a fresh database. */
function child(): Promise<void> {
  const unbounded = process.env.PROBE_FLOOD_UNBOUNDED === '1';
  const huge = 1e9;
  return serveGatewayChild({
    dirPrefix: 'reelroute-flood-',
    adminKey: ADMIN,
    config: {
      callbacks: { allow_insecure: true },
      ...(unbounded ? { media: { probe_max_concurrent: huge, probe_max_queued: huge, probe_max_bytes_in_flight: huge, probe_per_key: huge } } : {}),
      providers: [{ id: 'fal-main', type: 'fal', base_url: 'http://127.0.0.1:9', api_key: 'k' }],
    },
  });
}

/** Parent: start the child and the media server, flood, measure. */
export async function benchProbeFlood(): Promise<ProbeFloodResult> {
  const gateway = await forkGatewayChild(fileURLToPath(import.meta.url));
  const { url, gc } = gateway;
  const media = await slowMediaServer();
  try {
    const call = async (path: string, key: string, body: unknown) => {
      const res = await fetch(url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as { key?: string; error?: { code: string } } };
    };
    const keys: string[] = [];
    for (let i = 0; i < KEYS; i++) keys.push((await call('/admin/keys', ADMIN, { name: `flood-${i}` })).body.key!);
    const estimate = (i: number) =>
      call('/v1/videos/generations/estimate', keys[i % KEYS]!, { model: 'kling-v3-motion-control', image_urls: [`${media.url}/img.png`], video_urls: [`${media.url}/v/${i}.mp4`] });
    await estimate(-1); // warm: one probe end to end
    await gc();
    const before = gateway.rss();
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: FLOOD }, (_, i) => estimate(i)));
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    const peak = gateway.rss().hwm;
    await new Promise((r) => setTimeout(r, 1_000));
    await gc();
    const after = gateway.rss().rss;
    const answered: Record<string, number> = {};
    for (const a of answers) {
      const label = `${a.status}${a.body.error ? ` ${a.body.error.code}` : ''}`;
      answered[label] = (answered[label] ?? 0) + 1;
    }
    return { estimates: FLOOD, answered, seconds, rss_before_mb: MB(before.rss), rss_peak_mb: MB(peak), rss_after_mb: MB(after) };
  } finally {
    media.close();
    await gateway.exit();
  }
}

/** Rows for bench/run.ts's table. */
export function probeFloodLines(r: ProbeFloodResult) {
  const answered = Object.entries(r.answered).map(([k, n]) => `${n}× ${k}`).join(', ');
  return [
    { section: 'probe flood', what: `${r.estimates} estimates, slow 4 MB moov: gateway RSS before → peak → after`, value: `${r.rss_before_mb} → ${r.rss_peak_mb} → ${r.rss_after_mb} MB`, goal: 'peak ≤ before + 150 MB', met: r.rss_peak_mb - r.rss_before_mb <= 150 },
    { section: 'probe flood', what: 'answers', value: `${answered} in ${r.seconds} s` },
  ];
}

if (process.argv.includes('--child')) void child();
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  benchProbeFlood().then(
    (r) => {
      for (const l of probeFloodLines(r)) process.stdout.write(`${l.what}: ${l.value}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`probe flood failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
