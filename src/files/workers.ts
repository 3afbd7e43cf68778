/**
 * The files' background work: the output mirror's queue and the expiry sweep (bytes of expired
 * files deleted, rows kept). Started and stopped with the gateway.
 */
import type { OutputMirror } from './mirror.ts';
import type { FileStore } from './store.ts';

const EXPIRY_EVERY_MS = 60_000;

export class FileWorkers {
  private timer: NodeJS.Timeout | null = null;
  /** The sweep in progress: never two at once, and stop() waits for it before the store closes. */
  private sweeping: Promise<void> | null = null;
  private stopped = false;

  constructor(
    readonly files: FileStore,
    readonly mirror: OutputMirror,
    private readonly log: { error(obj: object, msg: string): void },
    /** This replica's name on the files it claims for expiry. */
    private readonly owner = 'local',
  ) {}

  start(): void {
    this.mirror.start();
    const sweep = () => {
      this.sweeping ??= this.sweep().finally(() => (this.sweeping = null));
    };
    sweep();
    this.timer = setInterval(sweep, EXPIRY_EVERY_MS);
    this.timer.unref();
  }

  /** Bounded batches with a turn of the event loop between them: a large backlog never holds requests up. */
  private async sweep(): Promise<void> {
    try {
      while (!this.stopped && (await this.files.expireDue(500, this.owner)) > 0) await new Promise((r) => setImmediate(r));
    } catch (err) {
      this.log.error({ err }, 'file expiry failed');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all([this.sweeping, this.mirror.stop()]);
  }
}
