/** The task object (CONTRACT §3): the same shape everywhere a task is returned. */
import type { AttemptRow, TaskRow } from '../db/schema/index.ts';
import type { AttemptView } from '../db/repos/tasks.ts';
import { microsToUsd } from '../pricing/money.ts';
import { DEFAULT_ESTIMATED_TIME } from '../catalog/models.ts';
import type { CanonicalModel } from '../../providers/types.ts';
import { TERMINAL } from './context.ts';
import { providerFailureText } from './client-errors.ts';

const seconds = (ms: number) => Math.floor(ms / 1000);

/** Attempt states as clients see them: the write-ahead `submitting` is just `pending` to them. */
const ATTEMPT_VIEW: Record<AttemptRow['status'], string> = {
  submitting: 'pending',
  pending: 'pending',
  processing: 'processing',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  unknown: 'unknown',
};

export interface TaskViewOptions {
  /** Whether the provider running it can cancel. */
  canCancel: boolean;
}

export function taskView(task: TaskRow, attempts: readonly AttemptView[], opts: TaskViewOptions) {
  return {
    id: task.id,
    object: 'video.generation.task',
    model: task.model,
    status: task.status,
    progress: task.progress,
    created: seconds(task.createdAt),
    updated: seconds(task.updatedAt),
    provider: task.provider,
    task_info: {
      can_cancel: opts.canCancel && !TERMINAL.has(task.status),
      estimated_time: task.estimatedTime ?? DEFAULT_ESTIMATED_TIME[task.model as CanonicalModel] ?? null,
    },
    usage: {
      billing_rule: task.billingRule,
      billable_units: task.billableUnits,
      unit_price_usd: microsToUsd(task.unitPriceMicros),
      reserved_usd: microsToUsd(task.reservedMicros),
      charged_usd: microsToUsd(task.chargedMicros),
      refunded_usd: microsToUsd(task.refundedMicros),
    },
    results: task.results ? (JSON.parse(task.results) as string[]) : null,
    result_data: task.resultData ? (JSON.parse(task.resultData) as Record<string, unknown>) : null,
    // Mirrored outputs (CONTRACT §8); absent while results are the upstream's own URLs.
    ...(task.resultFiles && task.status === 'completed' ? { result_files: JSON.parse(task.resultFiles) as unknown[] } : {}),
    error: task.errorCode ? { code: task.errorCode, message: task.errorMessage ?? '' } : null,
    attempts: attempts.map((a, i) => ({
      provider: a.providerId,
      status: ATTEMPT_VIEW[a.status],
      upstream_id: a.upstreamId,
      ...(a.errorCode ? { error: { code: a.errorCode, message: attemptMessage(task, a, i === attempts.length - 1) } } : {}),
    })),
  };
}

/**
 * An attempt's error as the client reads it: the upstream's words only for the input rejection that
 * ended the task (always the last attempt); any other failure was provider-side and gets a fixed text
 * (client-errors.ts), so a provider's account or price details never reach a client.
 */
function attemptMessage(task: TaskRow, a: AttemptView, last: boolean): string {
  if (last && task.errorCode === 'upstream_rejected') return a.errorMessage ?? '';
  return providerFailureText(a.errorCode);
}

export type TaskView = ReturnType<typeof taskView>;
