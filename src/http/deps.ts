/** What the HTTP layer is built from (createApp's argument). */
import type { KeyAuth } from '../keys/keys.ts';
import type { EngineContext } from '../tasks/context.ts';
import { providerById } from '../tasks/context.ts';
import type { TaskRow } from '../db/schema/index.ts';
import type { AttemptView } from '../db/repos/tasks.ts';
import { taskView } from '../tasks/view.ts';
import type { PrepareDeps } from '../tasks/prepare.ts';
import { pinInput } from '../files/pin.ts';

export interface AppDeps {
  ctx: EngineContext;
  auth: KeyAuth;
  adminKey: string;
}

/** The task object for a row, with its attempts. */
export function renderTask(deps: AppDeps, task: TaskRow, attempts: readonly AttemptView[]) {
  const adapter = task.provider ? providerById(deps.ctx, task.provider)?.adapter : undefined;
  return taskView(task, attempts, { canCancel: adapter?.capabilities.cancel ?? false });
}

/** `pin`: copy reference media into the store (create, when files.pin_inputs is in effect). */
export function prepareDeps(deps: AppDeps, opts: { pin?: boolean } = {}): PrepareDeps {
  const { ctx } = deps;
  const pin = opts.pin && ctx.files.pinInputs() ? (keyId: string, url: string) => pinInput(ctx, keyId, url) : undefined;
  return { probe: ctx.probe, store: ctx.store, guard: ctx.guard, files: ctx.files, ...(pin ? { pin } : {}) };
}
