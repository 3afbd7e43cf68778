/**
 * The seed page's rule for custom element videos (CONTRACT §8): at most 8 s, and the shorter side
 * between 720 and 2160 px, both read from the container header, checked before money moves.
 */
import { DURATION_TOLERANCE_S, ELEMENT_VIDEO_MAX_S } from '../catalog/models.ts';
import { ApiError } from '../errors.ts';
import type { VideoProbeResult } from '../media/probe.ts';

export const ELEMENT_SHORT_SIDE_PX = { min: 720, max: 2160 } as const;

/**
 * Throws 400 `invalid_element_video` naming the broken rule. A header that could not be read
 * passes here (as everywhere else, the quote stands and the upstream judges the video).
 */
export function checkElementVideo(probed: VideoProbeResult, param: string): void {
  if (!probed.ok) return;
  if (probed.durationS > ELEMENT_VIDEO_MAX_S + DURATION_TOLERANCE_S) {
    throw new ApiError('invalid_element_video', `${param}: duration: the video lasts ${probed.durationS.toFixed(2)} s; at most ${ELEMENT_VIDEO_MAX_S} s`, { param });
  }
  if (probed.width && probed.height) {
    const short = Math.min(probed.width, probed.height);
    if (short < ELEMENT_SHORT_SIDE_PX.min || short > ELEMENT_SHORT_SIDE_PX.max) {
      throw new ApiError(
        'invalid_element_video',
        `${param}: resolution: the video is ${probed.width}×${probed.height}; its shorter side must be ${ELEMENT_SHORT_SIDE_PX.min}–${ELEMENT_SHORT_SIDE_PX.max} px`,
        { param },
      );
    }
  }
}
