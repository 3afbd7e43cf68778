/**
 * The real gateway as its own process (`src/main.ts` under tsx, as `npm start` runs it), for tests
 * that kill and restart it or drive it from another process (crash drills, the CLI). Its config is
 * `<dir>/reelroute.yaml` and its database `<dir>/gw.db`, so a restart on the same `dir` picks up
 * where the last process died. Real processes need real time: every wait here is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A started gateway process and the URL it listens on. */
export interface GatewayProcess {
  url: string;
  child: ChildProcess;
}

/** Processes of this test file still running; `killGatewayProcesses` in afterAll ends them. */
const running = new Set<ChildProcess>();

/**
 * Start `src/main.ts` on `dir`'s config and database; resolves once it logs that it listens.
 * `port` 0 (the default) lets the OS choose; a fixed one lets the config name the public URL first.
 */
export function spawnGatewayProcess(opts: { dir: string; adminKey: string; port?: number }): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      REELROUTE_CONFIG: join(opts.dir, 'reelroute.yaml'),
      REELROUTE_DB: join(opts.dir, 'gw.db'),
      REELROUTE_ADMIN_KEY: opts.adminKey,
      PORT: String(opts.port ?? 0),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gateway did not start in 20 s')), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.includes('reelroute listening')) return;
      clearTimeout(timer);
      resolve({ url: (JSON.parse(line) as { url: string }).url, child });
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
}

/** SIGKILL every gateway process this file started that still runs (afterAll, after a failed test). */
export function killGatewayProcesses(): void {
  for (const c of running) c.kill('SIGKILL');
}

/** Resolves when `child` has exited (at once if it already has). */
export const processExited = (child: ChildProcess): Promise<void> =>
  new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));

/** Call the gateway at `url` with a bearer key and an optional JSON body. */
export async function callGateway(url: string, method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** Read the task every 100 ms until it is completed or failed (10 s at most); returns its last view. */
export async function waitForTaskEnd(url: string, taskId: string, key: string): Promise<any> {
  let task: any;
  for (let i = 0; i < 100; i++) {
    task = (await callGateway(url, 'GET', `/v1/tasks/${taskId}`, key)).body;
    if (task.status === 'completed' || task.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return task;
}
