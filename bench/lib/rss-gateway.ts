/**
 * A gateway in its own process, so the RSS the memory benches read is the gateway's alone
 * (bench/probe-flood.ts, bench/upload-rss.ts). The bench file forks itself with `--child`; the
 * child side calls `serveGatewayChild`, the parent side `forkGatewayChild`. Over IPC the parent can
 * ask for a full GC (`--expose-gc`) before a reading, and for a clean exit.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';

/** Bytes → MiB, one decimal. */
export const MB = (b: number) => Math.round((b / 1048576) * 10) / 10;

/** A forked gateway, seen from the parent. */
export interface GatewayChild {
  url: string;
  /** Resident set size now and its peak so far (VmRSS, VmHWM from /proc), bytes. */
  rss(): { rss: number; hwm: number };
  /** A full GC in the child; resolves once it is done. */
  gc(): Promise<void>;
  /** Close the server and the database, remove the folder, and wait for the process to end. */
  exit(): Promise<void>;
}

/** Child side: a gateway on a fresh database in a new temp folder, with `config` (raw, as in the YAML file). */
export async function serveGatewayChild(opts: { dirPrefix: string; adminKey: string; config: unknown }): Promise<void> {
  // Loaded here, not at the top: the parent imports this file too and needs none of the gateway.
  const { parseConfig } = await import('../../src/config.ts');
  const { openStore } = await import('../../src/db/store.ts');
  const { createRuntime } = await import('../../src/runtime.ts');
  const { listen } = await import('../../providers/emulator-kit.ts');
  const dir = mkdtempSync(join(tmpdir(), opts.dirPrefix));
  const store = await openStore(join(dir, 'db.sqlite'));
  const runtime = await createRuntime({ config: parseConfig(opts.config), store, adminKey: opts.adminKey, log: pino({ level: 'silent' }) });
  const server = await listen(runtime.app);
  process.on('message', (msg: string) => {
    if (msg === 'gc') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send!('gc-done');
    } else if (msg === 'exit') {
      void server.close().then(() => store.close()).then(() => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      });
    }
  });
  process.send!({ url: server.url });
}

/** Parent side: fork `script --child` under tsx with `--expose-gc` and wait for its URL. */
export async function forkGatewayChild(script: string): Promise<GatewayChild> {
  const proc = fork(script, ['--child'], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { url } = await new Promise<{ url: string }>((resolve) => proc.once('message', (m) => resolve(m as { url: string })));
  const pid = proc.pid!;
  return {
    url,
    rss() {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
      return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
    },
    gc: () =>
      new Promise<void>((resolve) => {
        proc.once('message', () => resolve());
        proc.send('gc');
      }),
    async exit() {
      proc.send('exit');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}
