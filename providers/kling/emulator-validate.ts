/**
 * Kling emulator: request-body checks, from PROVIDERS.md. Each returns a message for a 1201
 * (invalid parameters, HTTP 400) answer, or null when the body is acceptable.
 */

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;

function checkOptional(obj: Record<string, unknown>, fields: string[]): string | null {
  for (const f of fields) if (obj[f] !== undefined && obj[f] !== null && typeof obj[f] !== 'string') return `${f} must be a string`;
  return null;
}

/** New-format motion control: `contents`, `settings`, `options`. */
export function validateMotion(body: unknown): string | null {
  if (!isObject(body)) return 'request body must be a JSON object';
  if (!Array.isArray(body.contents) || body.contents.length === 0) return 'contents is required';
  const count = { prompt: 0, image: 0, video: 0, element: 0 };
  const itemIds = new Set<string>();
  for (const item of body.contents) {
    if (!isObject(item)) return 'contents items must be objects';
    switch (item.type) {
      case 'prompt':
        if (typeof item.text !== 'string' || item.text.length > 2500) return 'contents.prompt.text must be a string of at most 2500 characters';
        break;
      case 'image':
      case 'video':
        if (!isText(item.url)) return `contents.${item.type}.url is required`;
        break;
      case 'element': {
        // PROVIDERS.md (second-hand): element_id is a string, and each element item has an id
        // unique within the task.
        if (typeof item.element_id !== 'string' || !/^\d+$/.test(item.element_id)) return 'contents.element.element_id must be an element id string';
        if (!isText(item.id)) return 'contents.element.id is required';
        if (itemIds.has(item.id)) return `contents.element.id ${JSON.stringify(item.id)} is not unique`;
        itemIds.add(item.id);
        break;
      }
      default:
        return `contents type ${JSON.stringify(item.type)} is not supported`;
    }
    count[item.type as keyof typeof count]++;
  }
  if (count.image !== 1) return count.image === 0 ? 'an image is required in contents' : 'only one image is allowed in contents';
  if (count.video !== 1) return count.video === 0 ? 'a reference video is required in contents' : 'only one video is allowed in contents';
  if (count.prompt > 1) return 'only one prompt is allowed in contents';
  const s = body.settings;
  if (!isObject(s)) return 'settings is required';
  if (s.character_orientation !== 'image' && s.character_orientation !== 'video') return 'settings.character_orientation must be image or video';
  if (s.audio !== undefined && s.audio !== 'original' && s.audio !== 'off') return 'settings.audio must be original or off';
  if (s.resolution !== '720p' && s.resolution !== '1080p') return 'settings.resolution must be 720p or 1080p';
  if (count.element > 0 && s.character_orientation !== 'video') return 'elements require settings.character_orientation video';
  if (body.options !== undefined) {
    if (!isObject(body.options)) return 'options must be an object';
    const bad = checkOptional(body.options, ['callback_url', 'external_task_id']);
    if (bad) return `options.${bad}`;
  }
  return null;
}

/** Legacy element creation: name, description, reference type and one reference video. */
export function validateElement(body: unknown): string | null {
  if (!isObject(body)) return 'request body must be a JSON object';
  if (!isText(body.element_name) || body.element_name.length > 20) return 'element_name is required, at most 20 characters';
  if (!isText(body.element_description) || body.element_description.length > 100) {
    return 'element_description is required, at most 100 characters';
  }
  if (body.reference_type !== 'video_refer') return 'reference_type must be video_refer';
  const list = body.element_video_list;
  const videos = isObject(list) ? list.refer_videos : undefined;
  if (!Array.isArray(videos) || videos.length === 0) return 'element_video_list.refer_videos is required';
  if (!videos.every((v) => isObject(v) && isText(v.video_url))) return 'element_video_list.refer_videos[].video_url is required';
  return checkOptional(body, ['callback_url', 'external_task_id']);
}
