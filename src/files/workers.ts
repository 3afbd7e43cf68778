/**
 * The files' background work: the output mirror's queue and the expiry sweep (bytes of expired
 * files deleted, rows kept). Started and stopped with the gateway.
 */
import type { OutputMirror } from './mirror.ts';
import type { FileStore } from './store.ts';

const EXPIRY_EVERY_MS = 60_000;

export class FileWorkers {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly files: FileStore,
    readonly mirror: OutputMirror,
    private readonly log: { error(obj: object, msg: string): void },
  ) {}

  start(): void {
    this.mirror.start();
    const sweep = () => {
      try {
        // Bounded batches, so a large backlog never holds the event loop for long.
        while (this.files.expireDue() > 0);
      } catch (err) {
        this.log.error({ err }, 'file expiry failed');
      }
    };
    sweep();
    this.timer = setInterval(sweep, EXPIRY_EVERY_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.mirror.stop();
  }
}
