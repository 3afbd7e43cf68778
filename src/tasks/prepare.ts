/**
 * From a raw request body to a normalized, priced-in-units request: schema validation, URL rules,
 * element translation, and the reference video's duration read from its container header.
 * Shared by create and estimate; nothing is written and nothing is sent upstream here.
 */
import { MODELS, type CanonicalModel, type Quality, type UpstreamRequest } from '../../providers/types.ts';
import {
  DURATION_TOLERANCE_S,
  MOTION_LIMITS,
  elementSchema,
  motionSchema,
  urlFieldCode,
  type ElementBody,
  type MotionBody,
} from '../catalog/models.ts';
import { ApiError, paramFromPath } from '../errors.ts';
import type { MediaProbe, ProbeResult } from '../media/probe.ts';
import { UnsafeUrlError, type UrlGuard } from '../net/ssrf.ts';
import type { Store } from '../db/store.ts';
import type { FileStore } from '../files/store.ts';
import { checkElementVideo } from '../files/element-video.ts';
import type { BillingRule } from '../pricing/prices.ts';
import type { z } from 'zod';
import type { RoutePrefs } from '../routing/preferences.ts';

export interface Prepared {
  model: CanonicalModel;
  quality: Quality;
  request: UpstreamRequest;
  rule: BillingRule;
  /** Billable units to hold: seconds (rounded) or 1 request. */
  units: number;
  /** The reference video's duration as read, or null when its header could not be read. */
  durationS: number | null;
  /** Element affinity: only this provider may run the task. */
  onlyProvider?: string;
  callbackUrl?: string;
  /** The request's own routing preferences (the key's default is merged in at quote time). */
  route?: RoutePrefs;
}

export interface PrepareDeps {
  probe: MediaProbe;
  store: Store;
  guard: UrlGuard;
  /** The gateway's own files: their URLs skip the guard (read from disk) but must still exist. */
  files?: FileStore;
  /** Create only: copy a reference medium into the store, resolving with the URL the upstream gets (src/files/pin.ts). */
  pin?: (keyId: string, url: string) => Promise<string>;
}

/** Validate and normalize a body. Throws ApiError (4xx) naming the offending `param`. */
export async function prepare(body: unknown, keyId: string, deps: PrepareDeps): Promise<Prepared> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError('invalid_parameter', 'request body must be a JSON object');
  }
  const model = (body as { model?: unknown }).model;
  if (model === undefined) throw new ApiError('missing_parameter', 'model: required', { param: 'model' });
  if (typeof model !== 'string' || !(MODELS as readonly string[]).includes(model)) {
    throw new ApiError('unknown_model', `model: must be one of ${MODELS.join(', ')}`, { param: 'model' });
  }
  return model === 'kling-v3-motion-control'
    ? prepareMotion(parse(motionSchema, body), keyId, deps)
    : prepareElement(parse(elementSchema, body), deps);
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = paramFromPath(issue.path);
  const code = issue.code === 'unrecognized_keys' ? 'unknown_field' : issue.code === 'invalid_type' && issue.input === undefined ? 'missing_parameter' : 'invalid_parameter';
  const where = issue.code === 'unrecognized_keys' ? [param, issue.keys[0]].filter(Boolean).join('.') : param;
  const message = issue.code === 'invalid_type' && issue.input === undefined ? 'required' : issue.message;
  const urlCode = code === 'invalid_parameter' ? urlFieldCode(where) : null;
  return fail(urlCode ?? code, `${where ?? 'body'}: ${message}`, where);
}

function fail(code: 'unknown_field' | 'missing_parameter' | 'invalid_parameter' | 'invalid_media_url' | 'invalid_callback_url', message: string, param: string | null): never {
  throw new ApiError(code, message, { param });
}

/** A probe turned away by the probe bounds (src/media/probe-gate.ts): the client should retry shortly. */
function refuseBusy(probed: ProbeResult): ProbeResult {
  if (!probed.ok && probed.busy) throw new ApiError('rate_limited', `${probed.reason}; retry shortly`, { headers: { 'retry-after': '1' } });
  return probed;
}

/** Run checks at once; the refusal reported is the first in the body's order, whichever failed first in time. */
async function firstRefusal(checks: (Promise<void> | undefined)[]): Promise<void> {
  for (const r of await Promise.allSettled(checks)) if (r.status === 'rejected') throw r.reason;
}

/** The SSRF guard (CONTRACT §4) on every URL the request names; nothing is fetched on failure. */
async function checkUrl(deps: PrepareDeps, raw: string, param: string, code: 'invalid_media_url' | 'invalid_callback_url' = 'invalid_media_url'): Promise<void> {
  const own = code === 'invalid_media_url' ? await deps.files?.lookupUrl(raw) : undefined;
  if (own?.kind === 'live') return;
  if (own?.kind === 'gone') throw new ApiError(code, `${param}: the gateway file was deleted or has expired`, { param });
  try {
    await deps.guard.check(raw);
  } catch (err) {
    if (err instanceof UnsafeUrlError) throw new ApiError(code, `${param}: ${err.message}`, { param });
    throw err;
  }
}

async function prepareMotion(body: MotionBody, keyId: string, deps: PrepareDeps): Promise<Prepared> {
  await firstRefusal([
    checkUrl(deps, body.image_urls[0]!, 'image_urls[0]'),
    checkUrl(deps, body.video_urls[0]!, 'video_urls[0]'),
    body.callback_url ? checkUrl(deps, body.callback_url, 'callback_url', 'invalid_callback_url') : undefined,
  ]);
  const params = body.model_params;
  let onlyProvider: string | undefined;
  let elementIds: string[] | undefined;
  if (params.element_list?.length) {
    const id = params.element_list[0]!.element_id;
    const el = await deps.store.elements.get(id);
    if (!el || el.keyId !== keyId) {
      throw new ApiError('unknown_element', `model_params.element_list[0].element_id: unknown element ${id}`, { param: 'model_params.element_list[0].element_id' });
    }
    onlyProvider = el.providerId;
    elementIds = [el.upstreamElementId];
  }
  // An element forces orientation `video` (and its longer limit).
  const orientation = elementIds ? 'video' : (params.character_orientation ?? 'image');
  const limits = MOTION_LIMITS[orientation];
  // Pinned inputs: the quote reads the very bytes the upstream will be given.
  const [imageUrl, videoUrl] = deps.pin ? await Promise.all([deps.pin(keyId, body.image_urls[0]!), deps.pin(keyId, body.video_urls[0]!)]) : [body.image_urls[0]!, body.video_urls[0]!];
  const probed = refuseBusy(await deps.probe.duration(videoUrl));
  const durationS = probed.ok ? probed.durationS : null;
  if (durationS !== null && (durationS < limits.min - DURATION_TOLERANCE_S || durationS > limits.max + DURATION_TOLERANCE_S)) {
    throw new ApiError(
      'video_duration_out_of_range',
      `video_urls[0]: the reference video lasts ${durationS.toFixed(2)} s; with character_orientation "${orientation}" it must last ${limits.min}–${limits.max} s`,
      { param: 'video_urls[0]' },
    );
  }
  const units = durationS === null ? limits.max : Math.min(limits.max, Math.max(limits.min, Math.round(durationS)));
  const request: UpstreamRequest = {
    model: 'kling-v3-motion-control',
    imageUrl,
    videoUrl,
    quality: body.quality,
    orientation,
    keepOriginalSound: params.keep_original_sound,
    ...(body.prompt !== undefined ? { prompt: body.prompt } : {}),
    ...(elementIds ? { elementIds } : {}),
  };
  return {
    model: 'kling-v3-motion-control',
    quality: body.quality,
    request,
    rule: 'per_second',
    units,
    durationS,
    ...(onlyProvider ? { onlyProvider } : {}),
    ...(body.callback_url ? { callbackUrl: body.callback_url } : {}),
    ...(body.route ? { route: body.route } : {}),
  };
}

async function prepareElement(body: ElementBody, deps: PrepareDeps): Promise<Prepared> {
  const p = body.model_params;
  const videoUrl = p.element_video_list.video_url;
  await firstRefusal([
    checkUrl(deps, videoUrl, 'model_params.element_video_list.video_url'),
    body.callback_url ? checkUrl(deps, body.callback_url, 'callback_url', 'invalid_callback_url') : undefined,
  ]);
  // `video` also reads the picture size the element rule needs.
  const probed = await (deps.probe.video ? deps.probe.video(videoUrl) : deps.probe.duration(videoUrl));
  refuseBusy(probed);
  checkElementVideo(probed, 'model_params.element_video_list.video_url');
  return {
    model: 'kling-custom-element',
    quality: '720p',
    request: { model: 'kling-custom-element', name: p.element_name, description: p.element_description, referenceType: 'video_refer', videoUrl },
    rule: 'per_request',
    units: 1,
    durationS: probed.ok ? probed.durationS : null,
    ...(body.callback_url ? { callbackUrl: body.callback_url } : {}),
    ...(body.route ? { route: body.route } : {}),
  };
}
