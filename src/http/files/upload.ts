/**
 * POST /v1/files: one multipart part named `file`, streamed straight into the file store.
 *
 * Multipart parsing is @fastify/busboy: the maintained fork of busboy (undici and fastify depend on
 * it), streaming, with TypeScript types and per-part limits. The body is never buffered whole: the
 * part flows through the store's hashing writer into a temp file, so memory stays flat however big
 * the upload is.
 */
import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Busboy, type BusboyFileStream } from '@fastify/busboy';
import type { Context } from 'hono';
import { ApiError } from '../../errors.ts';
import type { FileRow } from '../../db/schema/index.ts';
import { TooLargeError, UnsupportedTypeError, type FileStore } from '../../files/store.ts';
import type { AppEnv } from '../env.ts';

// Multipart framing (boundaries, part headers) around the file: a Content-Length beyond the
// limit by more than this cannot hold an acceptable file, so it is refused before reading.
const FRAMING_ALLOWANCE = 64 * 1024;

/** The body is unread past this point: the connection cannot carry another request. */
const CLOSE = { headers: { connection: 'close' } };

function tooLarge(max: number): ApiError {
  return new ApiError('file_too_large', `file: larger than files.max_bytes (${max} bytes)`, { param: 'file', ...CLOSE });
}

/** Handle one upload for the calling key; resolves with the stored file. */
export async function receiveUpload(c: Context<AppEnv>, files: FileStore, maxBytes: number): Promise<FileRow> {
  if (!files.base()) {
    throw new ApiError(
      'public_base_url_required',
      'uploads need server.public_base_url: upstream providers fetch files from the gateway at that address',
    );
  }
  const type = c.req.header('content-type') ?? '';
  if (!/^multipart\/form-data\b/i.test(type) || !/boundary=/i.test(type)) {
    throw new ApiError('unsupported_media_type', 'request body must be multipart/form-data with one part named "file"');
  }
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes + FRAMING_ALLOWANCE) throw tooLarge(maxBytes);
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming) throw new Error('POST /v1/files needs the Node.js server (c.env.incoming)');

  const keyId = c.get('apiKey').id;
  let put: Promise<FileRow> | null = null;
  let part: BusboyFileStream | null = null;
  let extraFile = false;
  const parser = Busboy({
    headers: incoming.headers as { 'content-type': string },
    limits: { files: 2, fields: 20, parts: 30, fieldSize: 64 * 1024, headerPairs: 50 },
  });
  // The whole body is bounded too, not only the kept part: parts read past (other names, a second
  // file) must not let a chunked body stream on without end.
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      done(seen > maxBytes + FRAMING_ALLOWANCE ? new TooLargeError(maxBytes) : null, chunk);
    },
  });
  parser.on('file', (field, stream) => {
    if (field !== 'file' || put) {
      extraFile ||= field === 'file';
      stream.resume(); // other parts are read past, not kept
      return;
    }
    part = stream;
    put = files.put(stream, { keyId, purpose: 'upload', maxBytes });
    // Once the store refuses the file, stop parsing: the rest of the body is never read.
    put.catch(() => {
      counter.unpipe(parser);
      parser.destroy();
    });
  });

  let parseError: unknown = null;
  try {
    await pipeline(incoming, counter, parser);
  } catch (err) {
    parseError = err;
    // An aborted or malformed body must also end the part, so the store drops its temp file.
    (part as BusboyFileStream | null)?.destroy(err as Error);
  }
  if (put) {
    try {
      const row = await (put as Promise<FileRow>);
      if (extraFile) {
        await files.delete(row);
        throw new ApiError('invalid_parameter', 'file: send exactly one part named "file"', { param: 'file', ...CLOSE });
      }
      return row;
    } catch (err) {
      if (err instanceof TooLargeError || parseError instanceof TooLargeError) throw tooLarge(maxBytes);
      if (err instanceof UnsupportedTypeError) throw new ApiError('unsupported_file_type', `file: ${err.message}`, { param: 'file', ...CLOSE });
      if (err instanceof ApiError) throw err;
      if (parseError) throw new ApiError('invalid_parameter', 'file: the multipart body ended early or is malformed', { param: 'file', ...CLOSE });
      throw err;
    }
  }
  if (parseError instanceof TooLargeError) throw tooLarge(maxBytes);
  if (parseError) throw new ApiError('invalid_parameter', 'the multipart body is malformed', { param: 'file', ...CLOSE });
  throw new ApiError('missing_parameter', 'file: required (a multipart part named "file")', { param: 'file' });
}
