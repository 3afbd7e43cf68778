/**
 * Canonical models: their request schemas (the single source for validation and the OpenAPI
 * document) and their limits.
 */
import { z } from 'zod';
import { QUALITIES, type CanonicalModel } from '../../providers/types.ts';
import { routeSchema } from '../routing/preferences.ts';

export const URL_MAX = 2048;

/** Reference-video limits by orientation, seconds (CONTRACT §3). */
export const MOTION_LIMITS = { image: { min: 3, max: 10 }, video: { min: 3, max: 30 } } as const;
export const ELEMENT_VIDEO_MAX_S = 8;
/** Containers report durations like 10.008 s for a 10 s clip; this much over a limit is still in. */
export const DURATION_TOLERANCE_S = 0.05;

/** Default completion estimate until a provider has recent completions, seconds. */
export const DEFAULT_ESTIMATED_TIME: Record<CanonicalModel, number> = {
  'kling-v3-motion-control': 300,
  'kling-custom-element': 120,
};

const url = z.string().min(1).max(URL_MAX, `at most ${URL_MAX} characters`).pipe(z.url({ error: 'must be a URL' }));

/**
 * The error code for a request field that holds a URL, or null for any other field: a URL that is
 * too long or no URL at all is refused like every other refused URL (CONTRACT §11), not as a
 * generic invalid parameter.
 */
export function urlFieldCode(param: string | null): 'invalid_media_url' | 'invalid_callback_url' | null {
  if (param === 'callback_url') return 'invalid_callback_url';
  if (param !== null && /^(image_urls|video_urls)\[\d+\]$|^model_params\.element_video_list\.video_url$/.test(param)) return 'invalid_media_url';
  return null;
}

export const motionSchema = z.strictObject({
  model: z.literal('kling-v3-motion-control'),
  image_urls: z.array(url).length(1, 'exactly one image URL'),
  video_urls: z.array(url).length(1, 'exactly one video URL'),
  quality: z.enum(QUALITIES).default('720p'),
  prompt: z.string().max(2500, 'at most 2500 characters').optional(),
  model_params: z
    .strictObject({
      character_orientation: z.enum(['image', 'video']).optional(),
      keep_original_sound: z.boolean().default(true),
      element_list: z
        .array(z.strictObject({ element_id: z.string().min(1).max(64) }))
        .max(1, 'at most one element')
        .optional(),
    })
    .prefault({}),
  callback_url: url.optional(),
  route: routeSchema.optional(),
});

export const elementSchema = z.strictObject({
  model: z.literal('kling-custom-element'),
  model_params: z.strictObject({
    element_name: z.string().min(1, 'at least 1 character').max(20, 'at most 20 characters'),
    element_description: z.string().min(1, 'at least 1 character').max(100, 'at most 100 characters'),
    reference_type: z.literal('video_refer'),
    element_video_list: z.strictObject({ video_url: url }),
  }),
  callback_url: url.optional(),
  route: routeSchema.optional(),
});

export const generationSchema = z.discriminatedUnion('model', [motionSchema, elementSchema]);

export type MotionBody = z.infer<typeof motionSchema>;
export type ElementBody = z.infer<typeof elementSchema>;
export type GenerationBody = z.infer<typeof generationSchema>;

export interface ModelInfo {
  id: CanonicalModel;
  billing_rule: 'per_second' | 'per_request';
  limits: Record<string, unknown>;
}

export const MODEL_INFO: readonly ModelInfo[] = [
  {
    id: 'kling-v3-motion-control',
    billing_rule: 'per_second',
    limits: {
      qualities: [...QUALITIES],
      reference_video_seconds: MOTION_LIMITS,
      prompt_max_chars: 2500,
      images: 1,
      videos: 1,
    },
  },
  {
    id: 'kling-custom-element',
    billing_rule: 'per_request',
    limits: { element_name_chars: [1, 20], element_description_chars: [1, 100], reference_video_max_seconds: ELEMENT_VIDEO_MAX_S },
  },
];
