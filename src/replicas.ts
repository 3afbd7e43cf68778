/**
 * What one replica changes, the others learn within a second. Every admin change writes an audit
 * entry in its own transaction (src/http/admin/audit.ts), so a replica that sees a newer audit id
 * drops its key cache (a revoked key is refused everywhere) and re-applies the stored provider
 * overrides (enabled, priority, prices). Learned health is re-read on every look: circuits opened or
 * closed by another replica's traffic hold here too. SQLite runs one process: nothing to watch.
 */
import type { Logger } from 'pino';
import type { KeyAuth } from './keys/keys.ts';
import { applyStoredOverrides } from './routing/overrides.ts';
import type { EngineContext } from './tasks/context.ts';

export const WATCH_MS = 1_000;

export class ReplicaWatch {
  private timer: NodeJS.Timeout | null = null;
  private lastAudit: number | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly ctx: EngineContext,
    private readonly auth: KeyAuth,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.ctx.store.engine === 'sqlite' || this.timer) return;
    this.timer = setInterval(() => {
      this.running ??= this.look()
        .catch((err: unknown) => this.log.warn({ err }, 'replica watch failed'))
        .finally(() => (this.running = null));
    }, WATCH_MS);
    this.timer.unref();
  }

  /** One look: admin changes made elsewhere, and learned health. Tests call it. */
  async look(): Promise<void> {
    const { store } = this.ctx;
    const last = await store.admin.lastAuditId();
    if (this.lastAudit !== null && last !== this.lastAudit) {
      this.auth.invalidate();
      applyStoredOverrides(this.ctx.providers, await store.admin.overrides(), this.log);
    }
    this.lastAudit = last;
    await this.ctx.health.refresh();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
