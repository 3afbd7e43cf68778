/**
 * Property-based fuzzing of the HTTP surface (issue 5 §6): > 1,000 generated malformed or hostile
 * requests against real gateways (one fal provider each). Every one must be answered with a 4xx
 * envelope whose `type` matches its status — never a 5xx, never a crash — and must write nothing:
 * no task, no key, no ledger row, no upstream create, no media fetch, no callback delivery, no
 * Object.prototype pollution. Gateway A is the test helper's (callbacks.allow_insecure: true);
 * gateway B runs with allow_insecure: false so SSRF URLs meet the real guard.
 *
 * "Must be 4xx" generators never yield a request the gateway could accept: bodies are filtered
 * through the request schemas (a body they accept is not bad input), admin bodies through a copy of
 * the admin schemas, paths through the route table.
 */
import fc from 'fast-check';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';
import { elementSchema, motionSchema } from '../../src/catalog/models.ts';

// ---------------------------------------------------------------------------------------------
// Gateways, keys and the "nothing written" snapshot
// ---------------------------------------------------------------------------------------------

let gwA: Gateway; // callbacks.allow_insecure: true (the helper's default)
let gwB: Gateway; // callbacks.allow_insecure: false: the SSRF guard is live
let clientA = ''; // API key secrets used for raw requests
let clientAId = '';
let clientB = '';
let postpaidId = ''; // targets for hostile PATCH / credit bodies
let prepaidId = '';
let foreignTaskId = ''; // a task of another key: invisible to clientA, never cancellable by it
let protoNames: string[] = [];

const FAL = { id: 'fal-main', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 } };

beforeAll(async () => {
  protoNames = Object.getOwnPropertyNames(Object.prototype).sort();
  [gwA, gwB] = await Promise.all([
    startGateway({ providers: [FAL] }),
    startGateway({ providers: [FAL], config: { callbacks: { allow_insecure: false } } }),
  ]);
  ({ key: clientA, id: clientAId } = await gwA.createKey({ name: 'fuzz client' }));
  clientB = (await gwB.createKey({ name: 'fuzz client' })).key;
  postpaidId = (await gwA.createKey({ name: 'fuzz patch target', daily_budget_usd: 5 })).id;
  prepaidId = (await gwA.createKey({ name: 'fuzz credit target', balance_usd: 10 })).id;
  const other = await gwA.createKey({ name: 'fuzz other key' });
  const task = await gwA.call('POST', '/v1/videos/generations', { body: gwA.motion(4), key: other.key });
  expect(task.status, JSON.stringify(task.body)).toBe(200);
  foreignTaskId = task.body.id;
}, 30_000);

afterAll(async () => {
  printTally();
  for (const gw of [gwA, gwB]) {
    if (!gw) continue;
    await expectLedgerInvariants(gw.store);
    await gw.close();
  }
});

/** Everything a refused request must leave untouched, as one comparable string. */
async function snapshot(gw: Gateway): Promise<string> {
  return JSON.stringify({
    tasks: (await gw.store.tasks.all()).length,
    keys: await Promise.all(
      (await gw.store.keys.list()).map(async (k) => [
        k.id,
        k.name,
        k.balanceMicros,
        k.dailyBudgetMicros,
        k.monthlyBudgetMicros,
        k.revokedAt,
        await gw.store.ledger.balanceOf(k.id),
        await gw.store.ledger.spentIn(k.id, 0, Number.MAX_SAFE_INTEGER),
      ]),
    ),
    creates: Object.values(gw.emulators).map((e) => e.state.createsReceived),
    deliveries: (await gw.store.deliveries.all()).length,
    mediaFetches: gw.media.requests,
  });
}

// ---------------------------------------------------------------------------------------------
// Sending, checking, tallying
// ---------------------------------------------------------------------------------------------

interface Req {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
  /** Send the body chunked (no content-length), so the body limit must count while streaming. */
  stream?: boolean;
}

interface Res {
  status: number;
  text: string;
  json: any;
  headers: Headers;
}

const tally = new Map<string, { count: number; statuses: Set<number>; codes: Set<string> }>();

function record(cls: string, res: Res): void {
  const t = tally.get(cls) ?? { count: 0, statuses: new Set<number>(), codes: new Set<string>() };
  t.count++;
  t.statuses.add(res.status);
  const code = res.json?.error?.code;
  if (typeof code === 'string') t.codes.add(code);
  tally.set(cls, t);
}

function printTally(): void {
  const rows = [...tally.entries()];
  const total = rows.reduce((n, [, t]) => n + t.count, 0);
  const w = Math.max(5, ...rows.map(([c]) => c.length));
  const lines = [
    `fuzz tally: ${total} hostile requests`,
    `${'class'.padEnd(w)} | count | statuses        | codes`,
    `${'-'.repeat(w)}-|-------|-----------------|------`,
    ...rows.map(([cls, t]) => {
      const statuses = [...t.statuses].sort((a, b) => a - b).join(', ');
      return `${cls.padEnd(w)} | ${String(t.count).padStart(5)} | ${statuses.padEnd(15)} | ${[...t.codes].sort().join(', ')}`;
    }),
  ];
  console.log(lines.join('\n'));
}

function describeReq(r: Req): string {
  const body = r.body === undefined ? '' : typeof r.body === 'string' ? r.body : Buffer.from(r.body).toString('latin1');
  const shown = body.length > 300 ? `${body.slice(0, 300)}… (${body.length} chars)` : body;
  return `${r.stream ? '(chunked) ' : ''}${r.method} ${r.path.length > 200 ? `${r.path.slice(0, 200)}…` : r.path} ${JSON.stringify(r.headers ?? {})} ${JSON.stringify(shown)}`;
}

async function send(gw: Gateway, r: Req): Promise<Res> {
  let body: BodyInit | undefined = r.body;
  if (r.stream && r.body !== undefined) {
    const bytes = typeof r.body === 'string' ? new TextEncoder().encode(r.body) : r.body;
    body = new ReadableStream<Uint8Array>({
      start(ctrl) {
        for (let i = 0; i < bytes.length; i += 16_384) ctrl.enqueue(bytes.slice(i, i + 16_384));
        ctrl.close();
      },
    });
  }
  const init = { method: r.method, headers: r.headers ?? {}, ...(body !== undefined ? { body, duplex: 'half' } : {}) } as RequestInit;
  // One retry on a transport error: a keep-alive socket can be closed by the server just as the
  // client reuses it (a race of the pool, not an answer). Streamed bodies cannot be re-sent.
  const res = await fetch(gw.url + r.path, init).catch((err: unknown) => {
    if (r.stream) throw err;
    return fetch(gw.url + r.path, init);
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

/** The status → type table of CONTRACT §3, written out independently of src/errors.ts. */
const TYPE_FOR_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'insufficient_quota',
  403: 'permission_error',
  404: 'invalid_request_error',
  405: 'invalid_request_error',
  409: 'invalid_request_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
};

function expectEnvelope(res: Res, what: string): void {
  expect(res.status, `${what}\n→ ${res.status} ${res.text.slice(0, 400)}`).toBeGreaterThanOrEqual(400);
  expect(res.status, `${what}\n→ ${res.status} ${res.text.slice(0, 400)}`).toBeLessThan(500);
  expect(res.headers.get('content-type') ?? '', what).toMatch(/^application\/json/);
  expect(res.json, `${what}\n→ not JSON: ${res.text.slice(0, 200)}`).toBeTypeOf('object');
  expect(Object.keys(res.json).sort(), what).toEqual(['error']);
  const e = res.json.error;
  expect(Object.keys(e).sort(), what).toEqual(['code', 'message', 'param', 'request_id', 'type']);
  expect(e.code, what).toMatch(/^[a-z_]+$/);
  expect(typeof e.message === 'string' && e.message.length > 0, what).toBe(true);
  expect(e.param === null || typeof e.param === 'string', what).toBe(true);
  expect(e.request_id, what).toMatch(/^req_[0-9a-f]{24}$/);
  expect(e.request_id, what).toBe(res.headers.get('x-request-id'));
  expect(e.type, `${what}: type for ${res.status}`).toBe(TYPE_FOR_STATUS[res.status]);
}

/** Send one hostile request: a 4xx envelope, nothing written, Object.prototype untouched. */
async function hostile(gw: Gateway, cls: string, r: Req, extra?: (res: Res) => void): Promise<Res> {
  const before = await snapshot(gw);
  const what = `[${cls}] ${describeReq(r)}`;
  let res: Res;
  try {
    res = await send(gw, r);
  } catch (err) {
    throw new Error(`${what}\n→ fetch failed: ${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}`);
  }
  record(cls, res);
  expectEnvelope(res, what);
  expect(await snapshot(gw), `${what}: something was written`).toBe(before);
  expect(Object.getOwnPropertyNames(Object.prototype).sort(), `${what}: Object.prototype polluted`).toEqual(protoNames);
  expect(({} as Record<string, unknown>)['polluted'], what).toBeUndefined();
  const idem = r.headers?.['idempotency-key'];
  if (gw === gwA && idem !== undefined) expect((await gw.store.idempotency.get(clientAId, idem)), `${what}: Idempotency-Key stored`).toBeUndefined();
  extra?.(res);
  return res;
}

const json = (token: string) => ({ 'content-type': 'application/json', authorization: `Bearer ${token}` });
const GEN = '/v1/videos/generations';
const EST = '/v1/videos/generations/estimate';
const routeArb = fc.constantFrom(GEN, EST);
/** A valid Idempotency-Key now and then: a refused request must not take (or store) it. */
const idemHeader = fc.option(fc.uuid().map((u) => ({ 'idempotency-key': `fz-${u}` })), { freq: 2 }).map((h) => h ?? {});

// ---------------------------------------------------------------------------------------------
// Oracles: would the gateway accept this? (then it is not bad input and is filtered out)
// ---------------------------------------------------------------------------------------------

function schemaAccepts(body: unknown): boolean {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const model = (body as { model?: unknown }).model;
  if (model === 'kling-v3-motion-control') return motionSchema.safeParse(body).success;
  if (model === 'kling-custom-element') return elementSchema.safeParse(body).success;
  return false;
}

/** What the gateway reads from the bytes: Request.text() (undici drops leading BOMs — even two). */
async function decodeLikeServer(body: string | Uint8Array<ArrayBuffer>): Promise<string> {
  return new Response(body).text();
}

async function textAccepted(text: string | Uint8Array<ArrayBuffer>): Promise<boolean> {
  try {
    return schemaAccepts(JSON.parse(await decodeLikeServer(text)));
  } catch {
    return false;
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

async function parses(text: string | Uint8Array<ArrayBuffer>): Promise<boolean> {
  try {
    JSON.parse(await decodeLikeServer(text));
    return true;
  } catch {
    return false;
  }
}

// A copy of the admin schemas (src/http/admin/keys.ts), so a body they would take is skipped.
const money = z.number().finite().nonnegative().max(1e9);
const adminCreate = z.strictObject({
  name: z.string().min(1).max(100),
  balance_usd: money.optional(),
  daily_budget_usd: money.optional(),
  monthly_budget_usd: money.optional(),
});
const adminPatch = z.strictObject({
  name: z.string().min(1).max(100).optional(),
  daily_budget_usd: money.nullable().optional(),
  monthly_budget_usd: money.nullable().optional(),
});
const adminCredit = z.strictObject({ amount_usd: money.positive(), note: z.string().max(500).optional() });

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

type Path = (string | number)[];

const MOTION_PATHS: Path[] = [
  ['model'],
  ['image_urls'],
  ['image_urls', 0],
  ['image_urls', 1],
  ['video_urls'],
  ['video_urls', 0],
  ['quality'],
  ['prompt'],
  ['model_params'],
  ['model_params', 'character_orientation'],
  ['model_params', 'keep_original_sound'],
  ['model_params', 'element_list'],
  ['model_params', 'element_list', 0],
  ['model_params', 'element_list', 0, 'element_id'],
  ['callback_url'],
];
const ELEMENT_PATHS: Path[] = [
  ['model'],
  ['model_params'],
  ['model_params', 'element_name'],
  ['model_params', 'element_description'],
  ['model_params', 'reference_type'],
  ['model_params', 'element_video_list'],
  ['model_params', 'element_video_list', 'video_url'],
  ['callback_url'],
];

function motionBase(gw: Gateway, withElement: boolean): Record<string, unknown> {
  return {
    model: 'kling-v3-motion-control',
    image_urls: [`${gw.media.url}/img.png`],
    video_urls: [`${gw.media.url}/v/5.mp4`],
    quality: '720p',
    prompt: 'a dancer',
    model_params: {
      character_orientation: 'image',
      keep_original_sound: true,
      ...(withElement ? { element_list: [{ element_id: 'el_fuzz' }] } : {}),
    },
    callback_url: `${gw.media.url}/cb`,
  };
}

function elementBase(gw: Gateway): Record<string, unknown> {
  return {
    model: 'kling-custom-element',
    model_params: {
      element_name: 'Me',
      element_description: 'a face',
      reference_type: 'video_refer',
      element_video_list: { video_url: `${gw.media.url}/v/5.mp4` },
    },
    callback_url: `${gw.media.url}/cb`,
  };
}

const DELETE = Symbol('delete');

function setAt(obj: unknown, path: Path, value: unknown): unknown {
  const root: any = structuredClone(obj);
  let cur = root;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    if (cur[k] === null || typeof cur[k] !== 'object') cur[k] = typeof path[i + 1] === 'number' ? [] : {};
    cur = cur[k];
  }
  const last = path[path.length - 1]!;
  if (value === DELETE) {
    if (Array.isArray(cur) && typeof last === 'number') cur.splice(last, 1);
    else delete cur[last];
  } else cur[last] = value;
  return root;
}

/** Values of every JSON type (and "absent"); the schema filter keeps only the wrong ones. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', ' ', '720p', 'image', 'video', 'video_refer', 'true', '1', '[]', '{}', 'null'),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  fc.constantFrom([], {}, [[]], [{}], [null], ['https://a.example/x.png', 'https://a.example/y.png'], { url: 'https://a.example/x.png' }),
  fc.constant(DELETE),
);

/** Unicode nasties: full code-point range, graphemes, RTL overrides, NUL, BOM, lone surrogates. */
const unicodeString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
  fc.constantFrom(
    '\u202Eevil.mp4\u202C',
    '\u200F\u05D0\u05D1\u05D2',
    'مرحبا بالعالم',
    '\u0000',
    'kling-v3-motion-control\u0000',
    'kling-v3-motion-control\u200B',
    '\uFEFF720p',
    '720p\u0000',
    'ｋｌｉｎｇ',
    'e\u0301\u0301\u0301',
    '👩‍👩‍👧‍👦',
    '\uFFFF\uFFFE',
    '\uD800',
    '\uDFFF',
    'a\uD800b',
    '\uDBFF\uDFFF',
    'İ',
    'ß'.repeat(30),
  ),
);

/** Hosts and URLs the SSRF guard must refuse (CONTRACT §4). */
const SSRF_FIXED = [
  'http://127.0.0.1/x.png',
  'http://2130706433/x.mp4',
  'http://0x7f.1/x.mp4',
  'http://0177.0.0.1/x.mp4',
  'http://127.1/x.mp4',
  'http://[::1]/x.mp4',
  'http://169.254.169.254/latest/meta-data/',
  'https://169.254.169.254/latest/meta-data/iam/security-credentials/',
  'https://10.0.0.1/x.mp4',
  'https://192.168.1.1/x.mp4',
  'https://172.16.0.1/x.mp4',
  'https://100.64.0.1/x.mp4',
  'https://0.0.0.0/x.mp4',
  'https://0/x.mp4',
  'https://127.0.0.1./x.mp4',
  'https://%31%32%37.0.0.1/x.mp4',
  'https://2130706433/x.mp4',
  'https://0x7f000001/x.mp4',
  'https://[::1]/x.mp4',
  'https://[::]/x.mp4',
  'https://[::ffff:127.0.0.1]/x.mp4',
  'https://[::ffff:7f00:1]/x.mp4',
  'https://[::ffff:169.254.169.254]/latest/meta-data/',
  'https://[::127.0.0.1]/x.mp4',
  'https://[fe80::1]/x.mp4',
  'https://[fc00::1]/x.mp4',
  'https://[fd00:ec2::254]/latest/meta-data/',
  'https://[64:ff9b::7f00:1]/x.mp4',
  'https://[2002:7f00:1::]/x.mp4',
  'https://[2001::1]/x.mp4',
  'https://224.0.0.1/x.mp4',
  'https://255.255.255.255/x.mp4',
  'https://localhost/x.mp4',
  'https://LOCALHOST./x.mp4',
  'file:///etc/passwd',
  'file://localhost/etc/passwd',
  'gopher://127.0.0.1:6379/_FLUSHALL',
  'javascript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'data:video/mp4;base64,AAAA',
  'ftp://8.8.8.8/x.mp4',
  'ws://8.8.8.8/x',
  'dict://127.0.0.1:11211/stat',
  'https://user:pass@8.8.8.8/x.mp4',
  'https://user@8.8.8.8/x.mp4',
  'https://:pass@8.8.8.8/x.mp4',
  'https://8.8.8.8:443@127.0.0.1/x.mp4',
  'https://127.0.0.1#@8.8.8.8/x.mp4',
  'https://127.0.0.1\\@8.8.8.8/x.mp4',
  `https://8.8.8.8/${'a'.repeat(2100)}`,
  `https://8.8.8.8/?q=${'%41'.repeat(700)}`,
];

const octet = fc.integer({ min: 0, max: 255 });
const ssrfUrl = (gw: Gateway): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...SSRF_FIXED, `${gw.media.url}/v/5.mp4`, `${gw.media.url}/img.png`) },
    fc.tuple(fc.constantFrom('http', 'https'), octet, octet, octet).map(([s, a, b, c]) => `${s}://127.${a}.${b}.${c}/x.mp4`),
    fc.tuple(octet, octet, octet).map(([a, b, c]) => `https://10.${a}.${b}.${c}/x.mp4`),
    fc.tuple(octet, octet).map(([a, b]) => `https://192.168.${a}.${b}/x.mp4`),
    fc.tuple(fc.integer({ min: 16, max: 31 }), octet, octet).map(([a, b, c]) => `https://172.${a}.${b}.${c}/x.mp4`),
    fc.tuple(octet, octet).map(([a, b]) => `https://169.254.${a}.${b}/latest/meta-data/`),
    fc.integer({ min: 0x7f000000, max: 0x7fffffff }).map((n) => `https://${n}/x.mp4`),
    fc.integer({ min: 0x7f000000, max: 0x7fffffff }).map((n) => `https://0x${n.toString(16)}/x.mp4`),
    fc.tuple(fc.constantFrom('127.', '10.', '169.254.', '192.168.', '0.', '100.64.', '172.16.'), octet, octet, octet).map(
      ([prefix, b, c, d]) => `https://[::ffff:${prefix}${[b, c, d].slice(0, 4 - prefix.split('.').length + 1).join('.')}]/x.mp4`,
    ),
    fc.tuple(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }), fc.constantFrom('8.8.8.8', '[2606:4700::1111]')).map(
      ([user, host]) => `https://${encodeURIComponent(user)}:x@${host}/x.mp4`,
    ),
    fc.integer({ min: 2049, max: 4000 }).map((n) => `https://8.8.8.8/${'v'.repeat(n)}`),
  );

/** Public IP literals: pass the guard without DNS; fetched only if every other URL passed too. */
const PUBLIC = ['https://8.8.8.8/img.png', 'https://[2606:4700::1111]/v.mp4', 'https://1.1.1.1/v.mp4'];

const JSON_HEAD = { 'content-type': 'application/json' };

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const RUNS = {
  wrongTypes: 200,
  huge: 30,
  deep: 40,
  unicode: 120,
  rawUtf8: 30,
  proto: 100,
  ssrf: 200,
  contentType: 60,
  malformed: 120,
  idempotency: 60,
  ids: 80,
  auth: 40,
  methods: 80,
  paths: 80,
  admin: 150,
};

describe('fuzz: hostile requests get a 4xx envelope and write nothing', () => {
  it('wrong types for every field (motion and element bodies)', async () => {
    const body = fc
      .tuple(fc.constantFrom('motion', 'motion+element', 'element'), fc.array(fc.tuple(fc.nat(), anyValue), { minLength: 1, maxLength: 3 }))
      .map(([kind, muts]) => {
        const paths = kind === 'element' ? ELEMENT_PATHS : MOTION_PATHS;
        let b: unknown = kind === 'element' ? elementBase(gwA) : motionBase(gwA, kind === 'motion+element');
        for (const [i, v] of muts) b = setAt(b, paths[i % paths.length]!, v);
        return b;
      })
      .filter((b) => !schemaAccepts(b));
    await fc.assert(
      fc.asyncProperty(routeArb, body, idemHeader, async (path, b, idem) => {
        await hostile(gwA, 'wrong types', { method: 'POST', path, headers: { ...json(clientA), ...idem }, body: JSON.stringify(b) }, (res) => {
          expect(res.status).toBe(400);
        });
      }),
      { numRuns: RUNS.wrongTypes },
    );
  }, 60_000);

  it('huge strings, arrays and key counts (up to ~300 KB; over 256 KiB is a 413)', async () => {
    const chunk = fc.oneof(fc.constantFrom('x', 'é', '😀', '\u202E', '\\', '"'), fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }));
    const huge = fc.tuple(chunk, fc.integer({ min: 2_600, max: 300_000 })).map(([c, bytes]) => c.repeat(Math.ceil(bytes / Buffer.byteLength(c))));
    const body = fc
      .oneof(
        fc.tuple(fc.constantFrom(...MOTION_PATHS), huge).map(([p, s]) => setAt(motionBase(gwA, false), p, s)),
        fc.tuple(fc.constantFrom(...ELEMENT_PATHS), huge).map(([p, s]) => setAt(elementBase(gwA), p, s)),
        huge.map((s) => ({ ...motionBase(gwA, false), [s.slice(0, 100_000)]: 1 })),
        fc.integer({ min: 2, max: 12_000 }).map((n) => ({ ...motionBase(gwA, false), image_urls: Array.from({ length: n }, () => `${gwA.media.url}/img.png`) })),
        fc.integer({ min: 1_000, max: 25_000 }).map((n) => ({ ...motionBase(gwA, false), model_params: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])) })),
        fc.integer({ min: 1_000, max: 25_000 }).map((n) => Object.fromEntries([...Object.entries(motionBase(gwA, false)), ...Array.from({ length: n }, (_, i) => [`f${i}`, true])])),
      )
      .filter((b) => !schemaAccepts(b));
    await fc.assert(
      fc.asyncProperty(routeArb, body, fc.boolean(), async (path, b, stream) => {
        const text = JSON.stringify(b);
        await hostile(gwA, 'huge strings/arrays', { method: 'POST', path, headers: json(clientA), body: text, stream }, (res) => {
          expect(res.status).toBe(Buffer.byteLength(text) > 256 * 1024 ? 413 : 400);
        });
      }),
      { numRuns: RUNS.huge },
    );
  }, 60_000);

  it('deep nesting (thousands of levels) anywhere in the body', async () => {
    const nested = fc
      .tuple(fc.constantFrom('array', 'object', 'mixed'), fc.integer({ min: 1_000, max: 40_000 }))
      .map(([kind, depth]) => {
        if (kind === 'array') return '['.repeat(depth * 2) + ']'.repeat(depth * 2);
        if (kind === 'object') return '{"a":'.repeat(depth) + 'null' + '}'.repeat(depth);
        return '[{"__proto__":'.repeat(depth / 2) + '1' + '}]'.repeat(depth / 2);
      });
    const where = fc.constantFrom(
      'top',
      'model_params',
      'element_list',
      'element_list[0]',
      'prompt',
      'image_urls',
      'model',
      'unknown',
      'element_video_list',
      'element_params',
    );
    await fc.assert(
      fc.asyncProperty(routeArb, where, nested, idemHeader, async (path, w, deep, idem) => {
        const M = '"@@DEEP@@"';
        const bases: Record<string, unknown> = {
          top: '@@DEEP@@',
          model_params: { ...motionBase(gwA, false), model_params: '@@DEEP@@' },
          element_list: { ...motionBase(gwA, false), model_params: { element_list: '@@DEEP@@' } },
          'element_list[0]': { ...motionBase(gwA, false), model_params: { element_list: ['@@DEEP@@'] } },
          prompt: { ...motionBase(gwA, false), prompt: '@@DEEP@@' },
          image_urls: { ...motionBase(gwA, false), image_urls: '@@DEEP@@' },
          model: { ...motionBase(gwA, false), model: '@@DEEP@@' },
          unknown: { ...motionBase(gwA, false), extra: '@@DEEP@@' },
          element_video_list: setAt(elementBase(gwA), ['model_params', 'element_video_list'], '@@DEEP@@'),
          element_params: setAt(elementBase(gwA), ['model_params'], '@@DEEP@@'),
        };
        const text = JSON.stringify(bases[w]).replace(M, deep);
        await hostile(gwA, 'deep nesting', { method: 'POST', path, headers: { ...json(clientA), ...idem }, body: text }, (res) => {
          expect(res.status).toBe(Buffer.byteLength(text) > 256 * 1024 ? 413 : 400);
        });
      }),
      { numRuns: RUNS.deep },
    );
  }, 60_000);

  it('unicode: full code points, graphemes, RTL, NUL, lone surrogates (as \\u escapes)', async () => {
    const placement = fc.oneof(
      fc.tuple(fc.nat(), unicodeString).map(([i, s]) => ({ kind: 'value' as const, i, s })),
      fc.tuple(fc.constantFrom('top', 'model_params'), unicodeString).map(([at, s]) => ({ kind: 'key' as const, at, s })),
      fc.tuple(fc.constantFrom('host', 'path', 'scheme'), unicodeString).map(([part, s]) => ({ kind: 'url' as const, part, s })),
    );
    const body = fc
      .tuple(fc.boolean(), fc.array(placement, { minLength: 1, maxLength: 4 }))
      .map(([element, places]) => {
        const paths = element ? ELEMENT_PATHS : MOTION_PATHS;
        let b: any = element ? elementBase(gwA) : motionBase(gwA, false);
        for (const p of places) {
          if (p.kind === 'value') b = setAt(b, paths[p.i % paths.length]!, p.s);
          else if (p.kind === 'key') {
            if (p.at === 'top') b = { ...b, [p.s]: p.s };
            else b = setAt(b, ['model_params', p.s], p.s);
          } else {
            const url = p.part === 'host' ? `http://${p.s}/x.mp4` : p.part === 'path' ? `${gwA.media.url}/${p.s}` : `${p.s}://x/y.mp4`;
            b = setAt(b, element ? ['model_params', 'element_video_list', 'video_url'] : ['video_urls', 0], url);
          }
        }
        return b;
      })
      .filter((b) => !schemaAccepts(b));
    await fc.assert(
      fc.asyncProperty(routeArb, body, idemHeader, async (path, b, idem) => {
        // JSON.stringify writes lone surrogates as \ud800-style escapes: they arrive as lone surrogates.
        await hostile(gwA, 'unicode', { method: 'POST', path, headers: { ...json(clientA), ...idem }, body: JSON.stringify(b) }, (res) => {
          expect(res.status).toBe(400);
        });
      }),
      { numRuns: RUNS.unicode },
    );
  }, 60_000);

  it('unicode: invalid UTF-8 byte sequences inside JSON strings', async () => {
    const badBytes = fc.constantFrom([0xff], [0xfe, 0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]);
    const where = fc.constantFrom<Path>(['model'], ['quality'], ['model_params', 'character_orientation'], ['extra'], ['prompt'], ['image_urls', 0]);
    await fc.assert(
      fc.asyncProperty(routeArb, where, badBytes, fc.boolean(), async (path, at, bytes, asKey) => {
        const base = motionBase(gwA, false);
        const marked = asKey ? { ...base, '@@RAW@@': 1 } : setAt(base, at, 'x@@RAW@@');
        const [head, tail] = JSON.stringify(marked).split('@@RAW@@') as [string, string];
        const raw = new Uint8Array([...Buffer.from(head), ...bytes, ...Buffer.from(tail)]);
        fc.pre(!(await textAccepted(raw)));
        await hostile(gwA, 'invalid UTF-8 bytes', { method: 'POST', path, headers: json(clientA), body: raw }, (res) => {
          expect(res.status).toBe(400);
        });
      }),
      { numRuns: RUNS.rawUtf8 },
    );
  }, 60_000);

  it('prototype-pollution keys (__proto__, constructor, prototype) at every level, as raw JSON', async () => {
    const key = fc.constantFrom('__proto__', 'constructor', 'prototype', '__defineGetter__', 'hasOwnProperty', 'toString', 'valueOf', '__lookupSetter__');
    // Payloads as JSON text, so they can carry a real "__proto__" key too.
    const payload = fc.oneof(
      fc.constantFrom(
        '{"polluted":true}',
        '{"prototype":{"polluted":true}}',
        '{"__proto__":{"polluted":true}}',
        '{"constructor":{"prototype":{"polluted":true}}}',
        '{"model":"kling-v3-motion-control"}',
        '{"keep_original_sound":false,"element_list":[{"element_id":"el_x"}]}',
        '{"element_id":"el_x"}',
        '{"name":"root","balance_usd":1000000000}',
        'null',
        '"polluted"',
        '1',
        '[]',
      ),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    );
    const where = fc.constantFrom('top', 'model_params', 'element_list[0]', 'element model_params', 'element_video_list', 'top (only key)', 'model_params (only key)');
    await fc.assert(
      fc.asyncProperty(routeArb, where, key, payload, idemHeader, async (path, w, k, v, idem) => {
        const P = '@@PK@@';
        const V = '@@PV@@';
        const base = w.startsWith('element') ? elementBase(gwA) : motionBase(gwA, w === 'element_list[0]');
        const placed: Record<string, unknown> = {
          top: { [P]: V, ...base },
          'top (only key)': { [P]: V },
          model_params: setAt(base, ['model_params', P], V),
          'model_params (only key)': { ...base, model_params: { [P]: V } },
          'element_list[0]': setAt(base, ['model_params', 'element_list', 0, P], V),
          'element model_params': setAt(base, ['model_params', P], V),
          element_video_list: setAt(base, ['model_params', 'element_video_list', P], V),
        };
        // JSON.stringify drops a real __proto__ key, so key and value go in as text.
        const text = JSON.stringify(placed[w]).replace(`"${P}"`, JSON.stringify(k)).replace(`"${V}"`, v);
        fc.pre(!(await textAccepted(text)));
        await hostile(gwA, 'prototype-pollution keys', { method: 'POST', path, headers: { ...json(clientA), ...idem }, body: text }, (res) => {
          expect(res.status).toBe(400);
        });
      }),
      { numRuns: RUNS.proto },
    );
  }, 60_000);

  it('SSRF URLs in image_urls / video_urls / callback_url / element video_url are refused (allow_insecure: false)', async () => {
    const req = fc.oneof(
      fc
        .tuple(fc.constantFrom(0, 1, 2), ssrfUrl(gwB), fc.array(fc.oneof(ssrfUrl(gwB), fc.constantFrom(...PUBLIC)), { minLength: 2, maxLength: 2 }), fc.boolean())
        .map(([at, bad, others, withCallback]) => {
          const urls = [...others];
          urls.splice(at, 0, bad);
          const [image, video, callback] = urls as [string, string, string];
          return {
            model: 'kling-v3-motion-control',
            image_urls: [image],
            video_urls: [video],
            ...(withCallback || at === 2 ? { callback_url: callback } : {}),
          } as Record<string, unknown>;
        }),
      fc
        .tuple(fc.boolean(), ssrfUrl(gwB), fc.oneof(ssrfUrl(gwB), fc.constantFrom(...PUBLIC)))
        .map(([inVideo, bad, other]) => ({
          model: 'kling-custom-element',
          model_params: {
            element_name: 'Me',
            element_description: 'a face',
            reference_type: 'video_refer',
            element_video_list: { video_url: inVideo ? bad : other },
          },
          callback_url: inVideo ? other : bad,
        })),
    );
    await fc.assert(
      fc.asyncProperty(routeArb, req, async (path, b) => {
        await hostile(gwB, 'SSRF URLs (allow_insecure: false)', { method: 'POST', path, headers: json(clientB), body: JSON.stringify(b) }, (res) => {
          expect(res.status).toBe(400);
          expect(['invalid_media_url', 'invalid_callback_url', 'invalid_parameter']).toContain(res.json.error.code);
        });
      }),
      { numRuns: RUNS.ssrf },
    );
  }, 60_000);

  it('wrong content types on a valid body (415), and UTF-16 bytes declared as charset=utf-16 (400)', async () => {
    const type = fc.constantFrom(
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'text/json',
      'application/xml',
      'application/octet-stream',
      'application/jsonp',
      'application/jso',
      'json',
      'text/html',
      '*/*',
      'application/*',
      '',
      '(none)',
      'application/json; charset=utf-16',
      'application/json; charset=utf-16le',
      'application/json; charset=UTF-16BE',
    );
    const target = fc.constantFrom(GEN, EST, '/admin/keys', 'PATCH /admin/keys/:id', '/admin/keys/:id/credit');
    await fc.assert(
      fc.asyncProperty(target, type, fc.boolean(), async (t, ct, bom) => {
        const admin = t.startsWith('/admin') || t.startsWith('PATCH');
        const valid = admin ? (t.includes('credit') ? { amount_usd: 1 } : { name: 'ct test' }) : gwA.motion(5);
        const text = JSON.stringify(valid);
        const utf16 = ct.toLowerCase().includes('utf-16');
        let body: string | Uint8Array<ArrayBuffer> = text;
        if (utf16) {
          const le = Buffer.from(text, 'utf16le');
          const bytes = ct.toLowerCase().endsWith('be') ? Buffer.from(le).swap16() : le;
          body = new Uint8Array([...(bom ? (ct.toLowerCase().endsWith('be') ? [0xfe, 0xff] : [0xff, 0xfe]) : []), ...bytes]);
        } else if (ct === '(none)') body = new TextEncoder().encode(text); // fetch adds no content-type for bytes
        const headers: Record<string, string> = { authorization: `Bearer ${admin ? ADMIN_KEY : clientA}` };
        if (ct !== '(none)') headers['content-type'] = ct;
        const method = t.startsWith('PATCH') ? 'PATCH' : 'POST';
        const path = t.replace('PATCH ', '').replace(':id', t.includes('credit') ? prepaidId : postpaidId);
        await hostile(gwA, utf16 ? 'UTF-16 body, charset=utf-16' : 'wrong content-type', { method, path, headers, body }, (res) => {
          expect(res.status).toBe(utf16 ? 400 : 415);
        });
      }),
      { numRuns: RUNS.contentType },
    );
  }, 60_000);

  it('malformed JSON text (truncated, trailing commas, NaN, comments, BOM, quotes, control chars…)', async () => {
    const corrupt = fc.oneof(
      fc.nat().map((n) => (t: string) => t.slice(0, n % t.length)),
      fc.constant((t: string) => t.replace(/}$/, ',}')),
      fc.constant((t: string) => t.replace(/"\]/, '",]')),
      fc.constantFrom('NaN', 'Infinity', '-Infinity', 'undefined', '0x10', '01', '+1', '.5', '1.', "'720p'", 'True', 'nul').map(
        (v) => (t: string) => t.replace(/"quality":"720p"/, `"quality":${v}`),
      ),
      fc.constantFrom('// hi\n', '/* hi */', '#hi\n').map((c) => (t: string) => t.replace('{', `{${c}`)),
      fc.constant((t: string) => t.replace(/"(\w+)":/g, '$1:')),
      fc.constant((t: string) => t.replace(/"/g, "'")),
      fc.constantFrom('\n', '\t', '\u0000', '\u001f').map((c) => (t: string) => t.replace('a dancer', `a${c}dancer`)),
      fc.constantFrom('\\x41', '\\u12', '\\u', '\\', '\\q').map((e) => (t: string) => t.replace('a dancer', `a${e}dancer`)),
      fc.constant((t: string) => `${t} ${t}`),
      fc.constant((t: string) => `${t}x`),
      fc.constant(() => ''),
      fc.constant(() => '   \n\t '),
      fc.constant((t: string) => `\uFEFF\uFEFF${t}`),
      fc.constant((t: string) => `\u00A0${t}`),
      fc.string({ maxLength: 40 }).map((s) => () => s),
    );
    const target = fc.constantFrom(GEN, EST, '/admin/keys', 'PATCH /admin/keys/:id', '/admin/keys/:id/credit');
    await fc.assert(
      fc.asyncProperty(target, corrupt, fc.boolean(), idemHeader, async (t, fn, bom, idem) => {
        const admin = t.startsWith('/admin') || t.startsWith('PATCH');
        const valid = admin ? (t.includes('credit') ? { amount_usd: 1, note: 'a dancer' } : { name: 'a dancer' }) : motionBase(gwA, false);
        const text = (bom ? '\uFEFF' : '') + fn(JSON.stringify(valid));
        fc.pre(!(await parses(text)));
        const method = t.startsWith('PATCH') ? 'PATCH' : 'POST';
        const path = t.replace('PATCH ', '').replace(':id', t.includes('credit') ? prepaidId : postpaidId);
        await hostile(gwA, 'malformed JSON', { method, path, headers: { ...json(admin ? ADMIN_KEY : clientA), ...(admin ? {} : idem) }, body: text }, (res) => {
          expect(res.status).toBe(400);
          expect(res.json.error.code).toBe('invalid_json');
        });
      }),
      { numRuns: RUNS.malformed },
    );
  }, 60_000);

  it('invalid Idempotency-Key headers on a valid create (only values fetch can send)', async () => {
    const visible = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 });
    const idem = fc.oneof(
      fc.constantFrom('', ' ', '   ', '\t'),
      fc.integer({ min: 256, max: 2_000 }).map((n) => 'k'.repeat(n)),
      fc.tuple(fc.integer({ min: 256, max: 400 }), visible).map(([n, s]) => s.repeat(Math.ceil(n / s.length))),
      fc.tuple(visible, fc.constantFrom(' ', '\t', '  \t '), visible).map(([a, sep, b]) => `${a}${sep}${b}`),
      fc.tuple(visible, fc.integer({ min: 0x80, max: 0xff }), visible).map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`),
      fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 10 }),
    );
    await fc.assert(
      fc.asyncProperty(idem, async (k) => {
        // fetch trims leading/trailing HTTP whitespace; what is left must still be invalid.
        fc.pre(!/^[\x21-\x7e]{1,255}$/.test(k.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '')));
        await hostile(gwA, 'invalid Idempotency-Key', { method: 'POST', path: GEN, headers: { ...json(clientA), 'idempotency-key': k }, body: JSON.stringify(gwA.motion(5)) }, (res) => {
          expect(res.status).toBe(400);
          expect(res.json.error.param).toBe('Idempotency-Key');
        });
      }),
      { numRuns: RUNS.idempotency },
    );
  }, 60_000);

  it('hostile Authorization headers on a valid create (401/403)', async () => {
    const auth = fc.oneof(
      fc.constantFrom('(none)', '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Token abc', `Bearer ${ADMIN_KEY}`, 'Bearer rr_', 'Bearer null', 'Bearer undefined'),
      fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((s) => `Bearer ${s}`),
      // Visible bytes only: a client cannot send DEL (0x7f) in a header at all (undici refuses it).
      fc.string({ unit: fc.integer({ min: 0x21, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 40 }).map((s) => `Bearer rr_${s}`),
      fc.integer({ min: 1_000, max: 8_000 }).map((n) => `Bearer ${'k'.repeat(n)}`),
      fc.constant('x').map(() => `Bearer ${clientA}x`),
      fc.constant('x').map(() => `Bearer ${clientA.slice(0, -1)}`),
      fc.constant('x').map(() => `Bearer ${clientA} ${clientA}`),
      fc.constant('x').map(() => `Bearer ${clientA.toUpperCase()}`),
      fc.constant('x').map(() => `Basic ${clientA}`),
    );
    await fc.assert(
      fc.asyncProperty(routeArb, auth, async (path, a) => {
        const token = /^Bearer\s+(\S+)\s*$/i.exec(a.trim())?.[1];
        fc.pre(token !== clientA);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (a !== '(none)') headers.authorization = a;
        await hostile(gwA, 'hostile Authorization', { method: 'POST', path, headers, body: JSON.stringify(gwA.motion(5)) }, (res) => {
          expect([401, 403]).toContain(res.status);
        });
      }),
      { numRuns: RUNS.auth },
    );
  }, 60_000);

  // The route table, written out: path pattern → methods it answers.
  const ROUTES: [string, string[]][] = [
    ['/v1/videos/generations', ['POST']],
    ['/v1/videos/generations/estimate', ['POST']],
    ['/v1/videos/generations/:id', ['GET']],
    ['/v1/tasks', ['GET']],
    ['/v1/tasks/:id', ['GET']],
    ['/v1/tasks/:id/cancel', ['POST']],
    ['/v1/tasks/:id/callbacks', ['GET']],
    ['/v1/tasks/:id/callbacks/retry', ['POST']],
    ['/v1/models', ['GET']],
    ['/admin/keys', ['POST', 'GET']],
    ['/admin/keys/:id', ['PATCH', 'DELETE']],
    ['/admin/keys/:id/credit', ['POST']],
    ['/admin/providers', ['GET']],
    ['/admin/providers/:id', ['PATCH']],
    ['/admin/audit', ['GET']],
    ['/admin/spend', ['GET']],
    ['/healthz', ['GET']],
    ['/metrics', ['GET']],
    ['/openapi.json', ['GET']],
    ['/docs', ['GET']],
    ['/webhooks/:provider/:token', ['POST']],
  ];
  const matchesRoute = (pattern: string, path: string) => {
    const p = pattern.split('/');
    const s = path.split('/');
    return p.length === s.length && p.every((part, i) => part.startsWith(':') || part === s[i]);
  };
  const allowedFor = (path: string) => new Set(ROUTES.filter(([p]) => matchesRoute(p, path)).flatMap(([, m]) => m));
  const keyFor = (path: string) => (path.startsWith('/admin/') ? ADMIN_KEY : path.startsWith('/v1/') ? clientA : undefined);
  // HEAD is left out (a HEAD answer has no body to check); methods outside Node's parser's list
  // (e.g. FOO) never reach the app: Node answers a bare 400 itself.
  const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'PURGE', 'MKCOL', 'LINK', 'SEARCH', 'QUERY'];

  it('wrong methods on known paths (405 with Allow)', async () => {
    const concrete = fc.tuple(fc.constantFrom(...ROUTES.map(([p]) => p)), fc.constantFrom('task_nope', 'key_nope', 'fal-main', '1', 'x'.repeat(80))).map(([p, id]) =>
      p.replace(/:id|:token/g, p.startsWith('/admin/keys/') ? postpaidId : id).replace(':provider', 'fal-main'),
    );
    await fc.assert(
      fc.asyncProperty(concrete, fc.constantFrom(...METHODS), fc.option(fc.jsonValue({ maxDepth: 2 })), async (path, method, b) => {
        const allowed = allowedFor(path);
        fc.pre(!allowed.has(method));
        const key = keyFor(path);
        const headers: Record<string, string> = { ...(key ? { authorization: `Bearer ${key}` } : {}) };
        const withBody = method !== 'GET' && b !== null;
        if (withBody) headers['content-type'] = 'application/json';
        await hostile(gwA, 'wrong method on a known path', { method, path, headers, ...(withBody ? { body: JSON.stringify(b) } : {}) }, (res) => {
          expect(res.status).toBe(405);
          expect(new Set(res.headers.get('allow')?.split(/,\s*/))).toEqual(allowed);
        });
      }),
      { numRuns: RUNS.methods },
    );
  }, 60_000);

  it('unknown paths (random segments, encodings, dot segments, long paths, queries)', async () => {
    const segment = fc.oneof(
      fc.webSegment(),
      fc.constantFrom('..', '.', '%2e%2e', '%2F', '%00', '%ff', '%', '%zz', 'v1', 'admin', 'tasks', 'keys', 'healthz', 'estimate', ';', '~', '@', ':id', '*'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }).map(encodeURIComponent),
      fc.integer({ min: 500, max: 4_000 }).map((n) => 'p'.repeat(n)),
    );
    const path = fc
      .tuple(fc.constantFrom('/', '/v1/', '/v2/', '/admin/', '/webhooks/', '/v1/tasks/', '/v1/videos/', '//', '/V1/', '/Admin/'), fc.array(segment, { minLength: 0, maxLength: 5 }), fc.option(fc.webQueryParameters()))
      .map(([prefix, segs, q]) => `${prefix}${segs.join('/')}${q ? `?${q}` : ''}`);
    await fc.assert(
      fc.asyncProperty(path, fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'), fc.boolean(), async (p, method, withKey) => {
        // What the server will see: the URL as fetch normalizes it, percent-decoded as the router does.
        const seen = new URL(gwA.url + p).pathname;
        const decoded = seen
          .split('/')
          .map((s) => {
            try {
              return decodeURIComponent(s);
            } catch {
              return s;
            }
          })
          .join('/');
        fc.pre(ROUTES.every(([pattern]) => !matchesRoute(pattern, seen) && !matchesRoute(pattern, decoded)));
        const key = withKey ? keyFor(seen) : undefined;
        const headers: Record<string, string> = { ...(key ? { authorization: `Bearer ${key}` } : {}) };
        const body = method === 'GET' ? undefined : JSON.stringify(gwA.motion(5));
        if (body) headers['content-type'] = 'application/json';
        await hostile(gwA, 'unknown path', { method, path: p, headers, ...(body ? { body } : {}) }, (res) => {
          expect([401, 404]).toContain(res.status);
        });
      }),
      { numRuns: RUNS.paths },
    );
  }, 60_000);

  it('hostile ids in paths and hostile list queries', async () => {
    const rawId = fc.oneof(
      fc.constantFrom("' OR 1=1 --", '"; DROP TABLE tasks; --', '%00', '..', '%2e%2e', 'null', 'undefined', '0', '-1', 'task_', '*', '%', '%ff', '%E2%80%AE'),
      fc.constant('').map(() => foreignTaskId),
      fc.constant('').map(() => `${foreignTaskId}x`),
      fc.constant('').map(() => foreignTaskId.toUpperCase()),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).map(encodeURIComponent),
      fc.integer({ min: 65, max: 3_000 }).map((n) => 't'.repeat(n)),
    );
    const idReq = fc.tuple(
      fc.constantFrom('GET /v1/tasks/:id', 'GET /v1/videos/generations/:id', 'POST /v1/tasks/:id/cancel', 'GET /v1/tasks/:id/callbacks', 'POST /v1/tasks/:id/callbacks/retry', 'DELETE /admin/keys/:id', 'POST /webhooks/fal-main/:id', 'POST /webhooks/:id/x'),
      rawId,
    );
    const listValue = fc.oneof(
      fc.constantFrom('abc', '0', '-1', '101', '1e309', 'Infinity', 'NaN', '1.5', '', ' ', '0x10', '5', '20', '1e2', '[]', '{}', 'true', '\u0000', '٣'),
      fc.string({ unit: 'binary', maxLength: 10 }),
      fc.integer({ min: 60, max: 3_000 }).map((n) => 'a'.repeat(n)),
    );
    const listReq = fc.tuple(fc.option(listValue), fc.option(listValue)).map(([limit, after]) => ({ limit, after }));
    const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), after: z.string().max(64).optional() });
    await fc.assert(
      fc.asyncProperty(fc.oneof(idReq.map((r) => ({ kind: 'id' as const, r })), listReq.map((q) => ({ kind: 'list' as const, q }))), async (x) => {
        if (x.kind === 'id') {
          const [spec, id] = x.r;
          const [method, pattern] = spec.split(' ') as [string, string];
          const path = pattern.replace(':id', id);
          const key = path.startsWith('/admin/') ? ADMIN_KEY : path.startsWith('/v1/') ? clientA : undefined;
          // What the router will match: skip ids that normalize into another route or a real key id.
          const seen = new URL(gwA.url + path).pathname;
          // (No key id holds a NUL, and PostgreSQL cannot even be asked about one.)
          const decoded = decodeURIComponentSafe(id);
          fc.pre(seen.split('/').length === pattern.split('/').length && (decoded.includes('\0') || !(await gwA.store.keys.byId(decoded))));
          const headers: Record<string, string> = { ...(key ? { authorization: `Bearer ${key}` } : {}) };
          const body = method === 'POST' ? '{}' : undefined;
          if (body) headers['content-type'] = 'application/json';
          await hostile(gwA, 'hostile ids in paths', { method, path, headers, ...(body ? { body } : {}) }, (res) => {
            expect(res.status).toBe(404);
          });
        } else {
          const { limit, after } = x.q;
          const raw: Record<string, string> = { ...(limit !== null ? { limit } : {}), ...(after !== null ? { after } : {}) };
          fc.pre(!listQuery.safeParse(raw).success);
          const qs = Object.entries(raw)
            .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
            .join('&');
          await hostile(gwA, 'hostile list queries', { method: 'GET', path: `/v1/tasks?${qs}`, headers: { authorization: `Bearer ${clientA}` } }, (res) => {
            expect(res.status).toBe(400);
          });
        }
      }),
      { numRuns: RUNS.ids },
    );
  }, 60_000);

  it('hostile admin bodies: POST /admin/keys, PATCH /admin/keys/:id, POST /admin/keys/:id/credit', async () => {
    const moneyish = fc.oneof(
      fc.constantFrom('-1', '1e400', '-1e400', '1e10', '1000000001', '-0.000001', '"5"', 'true', 'null', '[]', '{}', '"NaN"', '0', '1e-400', '-0', '9007199254740993', '5', '0.000001'),
      fc.double().map((d) => JSON.stringify(d)),
    );
    const stringish = fc.oneof(
      fc.constantFrom('""', '1', 'true', 'null', '[]', '{}', '["x"]', '{"name":"x"}', `"${'n'.repeat(101)}"`, `"${'n'.repeat(600)}"`, '"\\u0000"', '"\\ud800"', '"\u202Eadmin"'),
      fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s)),
    );
    const field = fc.oneof(
      fc.tuple(fc.constantFrom('name', 'note'), stringish),
      fc.tuple(fc.constantFrom('balance_usd', 'daily_budget_usd', 'monthly_budget_usd', 'amount_usd'), moneyish),
      fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'id', 'key', 'revoked_at', 'admin', 'balance_micros'), fc.oneof(stringish, moneyish, fc.constant('{"polluted":true}'))),
    );
    const body = fc.oneof(
      { weight: 6, arbitrary: fc.array(field, { maxLength: 4 }).map((fs) => `{${fs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`) },
      fc.constantFrom('[]', '[{"name":"x"}]', 'null', '"name"', '42', 'true', '{"name":{"__proto__":{"toString":1}}}'),
      fc.integer({ min: 1_000, max: 20_000 }).map((d) => `{"name":${'['.repeat(d)}${']'.repeat(d)}}`),
    );
    const target = fc.constantFrom('create', 'patch', 'credit', 'patch unknown id', 'credit unknown id');
    await fc.assert(
      fc.asyncProperty(target, body, async (t, text) => {
        const parsed: unknown = JSON.parse(text);
        const schema = t === 'create' ? adminCreate : t === 'patch' ? adminPatch : t === 'credit' ? adminCredit : null;
        fc.pre(!schema || !schema.safeParse(parsed).success);
        const method = t.startsWith('patch') ? 'PATCH' : 'POST';
        const id = t.includes('unknown') ? 'key_nope' : t === 'credit' ? prepaidId : postpaidId;
        const path = t === 'create' ? '/admin/keys' : t.startsWith('patch') ? `/admin/keys/${id}` : `/admin/keys/${id}/credit`;
        await hostile(gwA, 'hostile admin bodies', { method, path, headers: json(ADMIN_KEY), body: text }, (res) => {
          expect([400, 404]).toContain(res.status);
        });
      }),
      { numRuns: RUNS.admin },
    );
  }, 60_000);

  it('afterwards both gateways still work: /healthz 200, a valid submit 200 (A), /v1/models 200 (B)', async () => {
    for (const gw of [gwA, gwB]) {
      expect((await gw.call('GET', '/healthz', { key: null })).status).toBe(200);
    }
    expect((await gwB.call('GET', '/v1/models', { key: clientB })).status).toBe(200);
    const created = await gwA.call('POST', GEN, { body: gwA.motion(5), key: clientA });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const ended = await gwA.settle(created.body.id, clientA);
    expect(ended.status).toBe('completed');
    // A BOM before a valid body is valid JSON text to a UTF-8 decoder (RFC 8259 §8.1 lets it be ignored).
    const bom = await send(gwA, { method: 'POST', path: EST, headers: json(clientA), body: `\uFEFF${JSON.stringify(gwA.motion(5))}` });
    expect(bom.status).toBe(200);
  }, 30_000);
});
