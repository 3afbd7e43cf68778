/** Serve bytes with HTTP Range support, as a CDN would (demo media and test fixtures). */
export function rangeResponse(range: string | undefined, bytes: Buffer, headers: Record<string, string> = {}): Response {
  const base = { 'accept-ranges': 'bytes', ...headers };
  const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
  if (!m) return new Response(new Uint8Array(bytes), { status: 200, headers: base });
  const start = Number(m[1]);
  const end = Math.min(m[2] ? Number(m[2]) : bytes.length - 1, bytes.length - 1);
  if (start >= bytes.length) return new Response(null, { status: 416, headers: { 'content-range': `bytes */${bytes.length}` } });
  return new Response(new Uint8Array(bytes.subarray(start, end + 1)), {
    status: 206,
    headers: { ...base, 'content-range': `bytes ${start}-${end}/${bytes.length}` },
  });
}
