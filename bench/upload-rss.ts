/**
 * Upload memory (issue 9): one 100 MB multipart upload streamed to POST /v1/files while the
 * gateway's RSS is sampled every 20 ms. The body is generated as it is sent (an MP4 header, then
 * zeros), so neither side ever holds it whole; a flat RSS shows the gateway streams it to disk.
 * The gateway runs in a child process (this file, forked with `--import tsx --expose-gc`) so its
 * RSS is its own.
 *
 * Standalone: `npx tsx bench/upload-rss.ts`; in `npm run bench` as the `upload` section.
 */
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { forkGatewayChild, MB, serveGatewayChild } from './lib/rss-gateway.ts';

const UPLOAD_BYTES = 100 * 1024 * 1024;
const ADMIN = 'rr_admin_upload_rss';

/** The result `npm run bench` stores under `upload`. */
export interface UploadRssResult {
  upload_mb: number;
  status: number;
  seconds: number;
  mb_per_s: number;
  rss_before_mb: number;
  rss_peak_mb: number;
  rss_after_mb: number;
}

/** Child: a gateway with the default files limits (100 MB), on a fresh database and folder. */
function child(): Promise<void> {
  return serveGatewayChild({
    dirPrefix: 'reelroute-upload-',
    adminKey: ADMIN,
    config: { server: { public_base_url: 'https://files.example.com' }, providers: [] },
  });
}

/** Stream a multipart upload of `size` bytes, generated chunk by chunk; resolves with the status. */
async function streamUpload(url: string, key: string, size: number): Promise<number> {
  const { syntheticMp4 } = await import('../src/media/synthetic-mp4.ts');
  const boundary = 'bench-boundary';
  const head = Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="big.mp4"\r\ncontent-type: video/mp4\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const video = syntheticMp4({ durationS: 5 });
  const chunk = Buffer.alloc(256 * 1024);
  const target = new URL('/v1/files', url);
  return new Promise((resolve, reject) => {
    const req = request(target, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + size + tail.length },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.write(head);
    req.write(video);
    let sent = video.length;
    const pump = () => {
      while (sent < size) {
        const piece = chunk.subarray(0, Math.min(chunk.length, size - sent));
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end(tail);
    };
    pump();
  });
}

/** Parent: start the child, upload, sample its RSS. */
export async function benchUploadRss(): Promise<UploadRssResult> {
  const gateway = await forkGatewayChild(fileURLToPath(import.meta.url));
  const { url, gc } = gateway;
  try {
    const res = await fetch(`${url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'uploader' }) });
    const { key } = (await res.json()) as { key: string };
    await streamUpload(url, key, 1024 * 1024); // warm: the upload path end to end once
    await gc();
    const before = gateway.rss().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, gateway.rss().rss)), 20);
    const started = Date.now();
    const status = await streamUpload(url, key, UPLOAD_BYTES);
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    await gc();
    const after = gateway.rss().rss;
    return {
      upload_mb: MB(UPLOAD_BYTES),
      status,
      seconds: Math.round(seconds * 10) / 10,
      mb_per_s: Math.round(MB(UPLOAD_BYTES) / seconds),
      rss_before_mb: MB(before),
      rss_peak_mb: MB(peak),
      rss_after_mb: MB(after),
    };
  } finally {
    await gateway.exit();
  }
}

/** Rows for bench/run.ts's table. */
export function uploadRssLines(r: UploadRssResult) {
  return [
    { section: 'upload', what: `${r.upload_mb} MB multipart upload: gateway RSS before → peak → after`, value: `${r.rss_before_mb} → ${r.rss_peak_mb} → ${r.rss_after_mb} MB`, goal: 'peak ≤ before + 50 MB', met: r.rss_peak_mb - r.rss_before_mb <= 50 },
    { section: 'upload', what: 'upload answer and rate', value: `HTTP ${r.status} in ${r.seconds} s (${r.mb_per_s} MB/s)`, met: r.status === 200 },
  ];
}

if (process.argv.includes('--child')) void child();
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  benchUploadRss().then(
    (r) => {
      for (const l of uploadRssLines(r)) process.stdout.write(`${l.what}: ${l.value}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`upload bench failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
