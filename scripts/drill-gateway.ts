/**
 * The real gateway as a child process (`node --import tsx src/main.ts`, like `npm start`), on a
 * config and database in a temp folder: started, SIGKILLed, restarted on the same database, and
 * finally stopped with SIGTERM. Error-level log lines and unexpected exits are collected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DrillEmulator } from './drill-upstreams.ts';

export interface GatewayPaths {
  root: string;
  dir: string;
  adminKey: string;
  /**
   * The fixed loopback port every run of the gateway listens on: it is the gateway's own
   * `public_base_url`, which turns on pinned inputs, mirrored outputs and upstream webhooks.
   */
  port: number;
}

/** A free loopback port (asked of the OS, then released) for a gateway that must keep its address across restarts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

/** What replicas on PostgreSQL add to the config: their shared address and files folder. */
export interface ReplicaConfig {
  /** The address in front of every replica (their shared public_base_url). */
  publicBase: string;
  /** The files folder every replica mounts (`files.dir`, `files.shared: true`). */
  filesDir: string;
}

/**
 * Write the YAML (JSON is valid YAML) config: short polling, insecure callbacks, the emulators behind
 * their relays. One file serves every replica (each gets its own PORT).
 */
export function writeConfig(paths: GatewayPaths, emulators: DrillEmulator[], replicas?: ReplicaConfig): string {
  const config = {
    // One key submits the whole drill: the per-key create limit would refuse it (not what a drill tests).
    server: { host: '127.0.0.1', public_base_url: replicas?.publicBase ?? `http://127.0.0.1:${paths.port}`, rate_limit: { create_rps: 0 } },
    // Its 8 reference clips are first read by up to 32 concurrent submits of that one key.
    media: { probe_per_key: 32 },
    callbacks: { allow_insecure: true, timeout_ms: 5_000, max_retries: 3 },
    // A breaker that opens only on a real outage: the drill's planned failures are spread out.
    routing: { max_attempts: 3, breaker_failures: 50, breaker_cooldown_ms: 1_000 },
    polling: { initial_ms: 300, max_ms: 1_500, per_provider_concurrency: 32, batch: 500 },
    // Mirrored outputs and pinned inputs are on by default once public_base_url is set; said here anyway.
    files: { mirror_outputs: true, pin_inputs: true, max_bytes: 20_000_000, ...(replicas ? { dir: replicas.filesDir, shared: true } : {}) },
    providers: emulators.map(({ provider, relay, apiKey }) => ({
      id: provider.id,
      type: provider.type,
      base_url: relay.url,
      api_key: apiKey,
      timeout_ms: 5_000,
      models: { 'kling-v3-motion-control': { price: provider.price } },
    })),
  };
  const path = join(paths.dir, 'reelroute.yaml');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

export class GatewayProcess {
  private child: ChildProcess | null = null;
  private expectExit = false;
  url: string | null = null;
  starts = 0;
  /** Error-level log lines and unexpected exits (a healthy drill has none). */
  readonly errors: string[] = [];
  private readonly stderrTail: string[] = [];

  /**
   * `dbPath` is the database's location (`REELROUTE_DB`): a SQLite file, or the PostgreSQL URL every
   * replica shares; `label` names this process in collected errors.
   */
  constructor(
    private readonly paths: GatewayPaths,
    private readonly configPath: string,
    readonly dbPath: string,
    private readonly label = 'gateway',
  ) {}

  /** The running process's pid (a replica's lease owner id carries it). */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /**
   * Spawn and wait (bounded) for "reelroute listening"; resolves with the base URL. Its log lines go
   * to `<label>.log` in the drill's folder (kept with --keep or when the drill fails).
   */
  start(timeoutMs = 30_000): Promise<string> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: this.paths.root,
      env: {
        ...process.env,
        REELROUTE_CONFIG: this.configPath,
        REELROUTE_DB: this.dbPath,
        REELROUTE_ADMIN_KEY: this.paths.adminKey,
        PORT: String(this.paths.port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.expectExit = false;
    this.url = null;
    this.starts++;
    const n = this.starts;
    const logFile = createWriteStream(join(this.paths.dir, `${this.label.replace(/\W+/g, '-')}.log`), { flags: 'a' });
    child.stdout!.pipe(logFile);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`gateway start ${n} did not listen in ${timeoutMs} ms; stderr: ${this.stderrTail.join(' | ')}`));
      }, timeoutMs);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let entry: { level?: number; msg?: string; url?: string; err?: { message?: string }; task?: string };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          return;
        }
        if (entry.msg === 'reelroute listening' && entry.url) {
          clearTimeout(timer);
          this.url = entry.url;
          resolve(entry.url);
        } else if ((entry.level ?? 0) >= 50 && this.errors.length < 50) {
          this.errors.push(`${this.label} run ${n}: ${entry.msg ?? '?'}${entry.task ? ` (task ${entry.task})` : ''}: ${entry.err?.message ?? ''}`);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (this.child === child) this.url = null;
        if (!this.expectExit) {
          this.errors.push(`${this.label} run ${n} exited on its own (code ${code}, signal ${signal}); stderr: ${this.stderrTail.join(' | ')}`);
          reject(new Error(`gateway run ${n} exited (code ${code})`));
        }
      });
    });
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL', 10_000);
  }

  /** SIGTERM (graceful: poller and callbacks stop, the database closes); SIGKILL after 15 s. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM', 15_000);
  }

  private async signal(sig: NodeJS.Signals, graceMs: number): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.expectExit = true;
    this.url = null;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}
