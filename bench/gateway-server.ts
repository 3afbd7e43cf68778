/**
 * Child process of the bench (`node --import tsx bench/gateway-server.ts`, forked with IPC), so the
 * servers under test never share an event loop with the load generator. Roles (env BENCH_CHILD, JSON):
 *
 *   stack     fal emulator + media server + bare proxy + reelroute gateway, all in this process
 *   emulator  fal emulator + media server only
 *   gateway   reelroute gateway only, routing to an emulator in another process
 *             (optionally with the bare read floor, bench/lib/bare-static.ts)
 *
 * The gateway opens a database the parent already created and migrated (with the bench key): a
 * SQLite file, or a PostgreSQL database shared by several gateway children (bench/engines.ts).
 * Commands arrive over IPC ({id, cmd, args}) and are answered ({type: 'reply', id, ok, result}).
 */
import pino from 'pino';
import { startFalEmulator } from '../providers/fal/emulator.ts';
import { listen, type Emulator, type RunningServer } from '../providers/emulator-kit.ts';
import { parseConfig } from '../src/config.ts';
import { openStore, type Store } from '../src/db/store.ts';
import { createRuntime, type Runtime } from '../src/runtime.ts';
import { startBareProxy } from './lib/bare-proxy.ts';
import { startMediaServer } from './lib/media-server.ts';
import { startBareStatic } from './lib/bare-static.ts';
import { ADMIN_KEY, FAL_KEY, FAL_MODEL_ID, PROVIDER_ID } from './lib/constants.ts';

export interface ChildOptions {
  role: 'stack' | 'emulator' | 'gateway';
  /** Gateway database (created and migrated by the parent): a SQLite path or a `postgres://` URL. */
  db?: string;
  /** Files folder; with PostgreSQL it is declared shared (every replica of the run uses the same one). */
  filesDir?: string;
  /** For role gateway: the emulator to route to. */
  emulatorUrl?: string;
  emulator?: { queueMs?: number; runMs?: number };
  polling?: { initial_ms?: number; max_ms?: number; per_provider_concurrency?: number; batch?: number };
  startPoller?: boolean;
  /** Also serve the bare read floor (bench/lib/bare-static.ts). */
  bareStatic?: boolean;
}

export interface ChildInfo {
  pid: number;
  /** process.hrtime (µs, CLOCK_MONOTONIC) when ready: lines the child's CPU profile up with the parent's clock. */
  hrtimeUs: number;
  emulatorUrl?: string;
  mediaUrl?: string;
  proxyUrl?: string;
  gatewayUrl?: string;
  staticUrl?: string;
}

const opts = JSON.parse(process.env.BENCH_CHILD ?? '{}') as ChildOptions;
process.env.LOG_LEVEL = 'silent';

let emulator: Emulator | undefined;
let media: (RunningServer & { requests: () => number }) | undefined;
let proxy: RunningServer | undefined;
let bareStatic: RunningServer | undefined;
let pruneTimer: NodeJS.Timeout | undefined;
let gateway: { server: RunningServer; runtime: Runtime; store: Store } | undefined;

async function startGateway(emulatorUrl: string): Promise<NonNullable<typeof gateway>> {
  if (!opts.db) throw new Error('gateway needs a db path');
  const config = parseConfig({
    callbacks: { allow_insecure: true },
    server: { rate_limit: { create_rps: 0 } }, // the bench measures throughput, not the per-key limit
    polling: opts.polling ?? {},
    // PostgreSQL refuses a files folder that is not declared shared: the run's replicas share one.
    ...(opts.filesDir ? { files: { dir: opts.filesDir, shared: /^postgres(ql)?:/.test(opts.db) } } : {}),
    providers: [{ id: PROVIDER_ID, type: 'fal', base_url: emulatorUrl, api_key: FAL_KEY, timeout_ms: 30_000 }],
  });
  const store = await openStore(opts.db);
  store.checkpointInBackground(); // as main.ts does
  // As main.ts builds it (process metrics on), with logging silenced.
  const runtime = await createRuntime({ config, store, adminKey: ADMIN_KEY, log: pino({ level: 'silent' }), processMetrics: true });
  const server = await listen(runtime.app);
  if (opts.startPoller) runtime.poller.start();
  return { server, runtime, store };
}

async function start(): Promise<ChildInfo> {
  const info: ChildInfo = { pid: process.pid, hrtimeUs: Number(process.hrtime.bigint() / 1000n) };
  if (opts.role === 'stack' || opts.role === 'emulator') {
    emulator = await startFalEmulator({ credentials: { apiKey: FAL_KEY }, queueMs: opts.emulator?.queueMs ?? 0, runMs: opts.emulator?.runMs ?? 600_000 });
    media = await startMediaServer();
    info.emulatorUrl = emulator.url;
    info.mediaUrl = media.url;
  }
  if (opts.role === 'stack') {
    proxy = await startBareProxy(emulator!.url);
    info.proxyUrl = proxy.url;
  }
  if (opts.role === 'stack' || opts.role === 'gateway') {
    const emuUrl = opts.role === 'stack' ? emulator!.url : opts.emulatorUrl;
    if (!emuUrl) throw new Error('gateway needs emulatorUrl');
    gateway = await startGateway(emuUrl);
    info.gatewayUrl = gateway.server.url;
  }
  if (opts.bareStatic) {
    bareStatic = await startBareStatic();
    info.staticUrl = bareStatic.url;
  }
  return info;
}

function needEmulator(): Emulator {
  if (!emulator) throw new Error(`no emulator in role ${opts.role}`);
  return emulator;
}

const commands: Record<string, (args: any) => unknown | Promise<unknown>> = {
  /** Create `count` upstream tasks in the emulator's state, ids `${prefix}${i}` (real tasks the poller will poll over HTTP). */
  emuCreate({ prefix, count }: { prefix: string; count: number }) {
    const state = needEmulator().state;
    const input = { image_url: 'http://media/img.png', video_url: 'http://media/v/5.mp4', character_orientation: 'image', keep_original_sound: true };
    for (let i = 0; i < count; i++) state.createTask(input, { modelId: FAL_MODEL_ID }, `${prefix}${i}`);
    return { tasks: state.tasks.size };
  },
  emuStats() {
    const s = needEmulator().state;
    return { polls: s.polls, createsReceived: s.createsReceived, tasksCreated: s.tasksCreated, tasks: s.tasks.size };
  },
  /** Drop every task the emulator remembers (between submit runs: its create is O(tasks held)). */
  emuClear() {
    const s = needEmulator().state;
    const n = s.tasks.size;
    s.tasks.clear();
    return { cleared: n };
  },
  /**
   * Clear the emulator's task map every `everyMs` (0 = stop). Its create answer computes a queue
   * position by scanning every task it holds, so without this a 10 s submit run measures the
   * emulator slowing down (O(tasks held)) rather than the gateway. Submit runs only: the tasks they
   * create are never polled (polling.initial_ms is set far beyond the run).
   */
  emuAutoPrune({ everyMs }: { everyMs: number }) {
    const state = needEmulator().state;
    if (pruneTimer) clearInterval(pruneTimer);
    pruneTimer = everyMs > 0 ? setInterval(() => state.tasks.clear(), everyMs) : undefined;
    return true;
  },
  async pollerStart() {
    if (!gateway) throw new Error('no gateway');
    await gateway.runtime.poller.start();
    return true;
  },
  mediaRequests: () => media?.requests() ?? 0,
  mem: () => process.memoryUsage(),
  gc() {
    (globalThis as { gc?: () => void }).gc?.();
    return process.memoryUsage();
  },
  async exit() {
    if (pruneTimer) clearInterval(pruneTimer);
    await gateway?.runtime.poller.stop();
    await gateway?.server.close();
    await gateway?.store.close();
    await proxy?.close();
    await bareStatic?.close();
    await media?.close();
    await emulator?.close();
    // process.exit (not a signal) so --cpu-prof writes its profile.
    setImmediate(() => process.exit(0));
    return true;
  },
};

process.on('message', (msg: { id: number; cmd: string; args?: unknown }) => {
  void (async () => {
    try {
      const fn = commands[msg.cmd];
      if (!fn) throw new Error(`unknown command ${msg.cmd}`);
      const result = await fn(msg.args ?? {});
      process.send?.({ type: 'reply', id: msg.id, ok: true, result });
    } catch (err) {
      process.send?.({ type: 'reply', id: msg.id, ok: false, error: (err as Error).stack ?? String(err) });
    }
  })();
});
process.on('disconnect', () => process.exit(0));

start().then(
  (info) => process.send?.({ type: 'ready', info }),
  (err: unknown) => {
    process.stderr.write(`bench child failed to start: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
