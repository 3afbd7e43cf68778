// The <video> of a completed motion-control task (its first result).
import { h } from './dom.js';

/** A <video> for a completed task that starts playing (muted, so browsers allow it) once loaded, or null. */
export function taskVideo(t) {
  const src = t.status === 'completed' && Array.isArray(t.results) ? t.results[0] : null;
  if (!src) return null;
  const video = h('video', { class: 'result', controls: true, autoplay: true, playsInline: true, preload: 'auto', 'aria-label': `Video of ${t.id}` });
  // Muted before the source is set: the browser decides on autoplay when loading starts.
  video.defaultMuted = true;
  video.muted = true;
  video.src = src;
  return video;
}
