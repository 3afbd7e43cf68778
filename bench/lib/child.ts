/**
 * Parent side of the child servers: fork with IPC, wait for ready, call commands, read RSS.
 * Children run under tsx (CPU profiles then name the source files), or `compiled`: bundled with
 * esbuild like `npm start` and run by plain node, so memory is measured as production runs it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { ChildInfo, ChildOptions } from '../gateway-server.ts';
import { benchPids } from './cpu.ts';

const SCRIPT = fileURLToPath(new URL('../gateway-server.ts', import.meta.url));
const COMPILED = fileURLToPath(new URL('../../dist/bench/gateway-server.js', import.meta.url));
let compiled: Promise<unknown> | null = null;

/** Bundle the child script as scripts/build.mjs bundles the gateway (once per bench run). */
function compileChild(): Promise<unknown> {
  compiled ??= build({ entryPoints: [SCRIPT], outfile: COMPILED, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' });
  return compiled;
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  info: ChildInfo;
  call<T = unknown>(cmd: string, args?: unknown): Promise<T>;
  /** Resident set size now (and the peak so far), from /proc, bytes. */
  rss(): { rss: number; hwm: number; anon: number; file: number; shmem: number };
  /** CPU time used so far (user + system), seconds, from /proc/<pid>/stat. */
  cpuS(): number;
  exit(): Promise<void>;
}

export async function startChild(opts: ChildOptions, extraExecArgv: string[] = [], mode: { compiled?: boolean } = {}): Promise<Child> {
  if (mode.compiled) await compileChild();
  const proc = fork(mode.compiled ? COMPILED : SCRIPT, [], {
    execArgv: mode.compiled ? extraExecArgv : [...extraExecArgv, '--import', 'tsx'],
    env: { ...process.env, LOG_LEVEL: 'silent', BENCH_CHILD: JSON.stringify(opts) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const info = await new Promise<ChildInfo>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`child (${opts.role}) exited with ${code} before it was ready`)));
    proc.on('message', (msg: any) => {
      if (msg.type === 'ready') resolve(msg.info as ChildInfo);
      else if (msg.type === 'reply') {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.ok) p?.resolve(msg.result);
        else p?.reject(new Error(msg.error));
      }
    });
  });
  const pid = proc.pid!;
  benchPids.add(pid);
  proc.once('exit', () => benchPids.delete(pid));
  return {
    proc,
    pid,
    info,
    call: (cmd, args) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        proc.send({ id, cmd, args });
      }),
    rss() {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
      return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
    },
    cpuS() {
      // Fields after the "(comm)" part: state is field 3, utime 14, stime 15 (clock ticks, 100/s on Linux).
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(rest[11]) + Number(rest[12])) / 100;
    },
    async exit() {
      if (proc.exitCode !== null) return;
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      try {
        proc.send({ id: nextId++, cmd: 'exit' });
      } catch {
        proc.kill('SIGTERM');
      }
      await exited;
      clearTimeout(timer);
    },
  };
}
