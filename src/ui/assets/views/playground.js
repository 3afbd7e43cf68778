// Playground: uploads (POST /v1/files), live quote (POST /v1/videos/generations/estimate),
// Generate (POST /v1/videos/generations), progress (GET /v1/tasks/{id}) until the video plays.
import { api, isMissingRoute } from '../api.js';
import { $, fill, h, showError, usd } from '../dom.js';
import { taskVideo } from '../video.js';

const MOTION = 'kling-v3-motion-control';
const ELEMENT = 'kling-custom-element';
const error = $('#error');
const form = $('#generate-form');
const generate = $('#generate');
const media = { image: null, video: null, face: null };

const size = (n) => (n < 1e3 ? `${n} B` : n < 1e6 ? `${Math.round(n / 1e3)} kB` : `${(n / 1e6).toFixed(1)} MB`);

/** Upload a file with POST /v1/files; resolves to its gateway URL. */
async function upload(file) {
  const form = new FormData();
  form.append('file', file, file.name);
  try {
    return (await api('/v1/files', { method: 'POST', form })).url;
  } catch (err) {
    if (isMissingRoute(err)) throw new Error('Uploads are not available on this gateway yet (POST /v1/files is missing). Paste a URL instead.');
    throw err;
  }
}

function preview(slot, src, isVideo) {
  const box = $(`#${slot}-preview`);
  if (!box) return;
  fill(box, src ? h(isVideo ? 'video' : 'img', { class: 'preview', src, alt: isVideo ? '' : 'Character image preview', muted: true, controls: isVideo }) : '');
}

/** A slot (image, video, face) takes a file: preview at once, upload, then quote. */
async function takeFile(slot, file) {
  if (!file) return;
  const status = $(`#${slot}-status`);
  media[slot] = null;
  showError(error, null);
  preview(slot, URL.createObjectURL(file), file.type.startsWith('video/'));
  status.textContent = `Uploading ${file.name} (${size(file.size)})…`;
  status.classList.add('loading');
  try {
    media[slot] = await upload(file);
    status.textContent = `Uploaded ${file.name} · ${size(file.size)}`;
  } catch (err) {
    status.textContent = 'Upload failed.';
    showError(slot === 'face' ? $('#element-error') : error, err);
  } finally {
    status.classList.remove('loading');
  }
  if (slot !== 'face') quoteSoon();
}

for (const slot of ['image', 'video']) {
  const zone = document.querySelector(`[data-drop="${slot}"]`);
  $(`#${slot}-file`).addEventListener('change', (e) => takeFile(slot, e.target.files[0]));
  $(`#${slot}-url`).addEventListener('input', (e) => {
    media[slot] = e.target.value.trim() || null;
    preview(slot, null);
    $(`#${slot}-status`).textContent = media[slot] ? 'Using this URL.' : '';
    quoteSoon();
  });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    takeFile(slot, e.dataTransfer.files[0]);
  });
}

function body() {
  const element = $('#element').value;
  const params = { character_orientation: $('#orientation').value, keep_original_sound: $('#sound').checked };
  if (element) params.element_list = [{ element_id: element }];
  const prompt = $('#prompt').value.trim();
  return { model: MOTION, image_urls: [media.image], video_urls: [media.video], quality: $('#quality').value, ...(prompt ? { prompt } : {}), model_params: params };
}

let quoteTimer;
let quoteSeq = 0;
function quoteSoon() {
  clearTimeout(quoteTimer);
  generate.disabled = true;
  quoteTimer = setTimeout(quote, 250);
}

async function quote() {
  const seq = ++quoteSeq;
  const price = $('#quote-price');
  const detail = $('#quote-detail');
  const provider = $('#quote-provider');
  if (!media.image || !media.video) {
    price.textContent = '—';
    provider.textContent = '—';
    detail.textContent = 'Add a character image and a reference video to see the price.';
    return;
  }
  detail.textContent = 'Pricing…';
  try {
    const q = await api('/v1/videos/generations/estimate', { method: 'POST', body: body() });
    if (seq !== quoteSeq) return;
    showError(error, null);
    const chosen = typeof q.chosen === 'string' ? q.chosen : (q.chosen?.provider ?? null);
    price.textContent = usd(q.estimate_usd);
    detail.textContent = q.billing_rule === 'per_second' ? `${q.billable_units} s of video at your key's price` : "at your key's price";
    provider.textContent = chosen ?? 'none available';
    generate.disabled = !chosen;
  } catch (err) {
    if (seq !== quoteSeq) return;
    price.textContent = '—';
    provider.textContent = '—';
    detail.textContent = 'No quote.';
    showError(error, err);
  }
}

for (const id of ['#quality', '#orientation', '#sound']) $(id).addEventListener('change', quoteSoon);
$('#element').addEventListener('change', () => {
  // An element forces orientation video (CONTRACT §3).
  if ($('#element').value) $('#orientation').value = 'video';
  quoteSoon();
});

/** Follow a task until it ends; `onUpdate` sees every state. */
async function follow(id, onUpdate) {
  for (;;) {
    const t = await api(`/v1/tasks/${encodeURIComponent(id)}`);
    onUpdate(t);
    if (!['pending', 'processing'].includes(t.status)) return t;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  if (generate.disabled) return;
  showError(error, null);
  generate.disabled = true;
  const run = $('#run');
  const status = $('#run-status');
  const bar = $('#run-progress');
  run.hidden = false;
  fill($('#run-result'));
  status.textContent = 'Submitting…';
  bar.value = 0;
  try {
    const task = await api('/v1/videos/generations', { method: 'POST', body: body() });
    const end = await follow(task.id, (t) => {
      bar.value = t.status === 'completed' ? 100 : t.progress;
      status.textContent = `${t.id} · ${t.status} · ${t.provider ?? '—'} · ${t.progress}% · held ${usd(t.usage.reserved_usd)}`;
    });
    if (end.status === 'completed') {
      status.textContent = `${end.id} · completed on ${end.provider} · charged ${usd(end.usage.charged_usd)}, refunded ${usd(end.usage.refunded_usd)}`;
      const video = taskVideo(end);
      if (video) {
        const done = status.textContent;
        video.addEventListener('loadeddata', () => (status.textContent = `${done} · video ready`), { once: true });
        video.addEventListener('playing', () => (status.textContent = `${done} · playing`), { once: true });
        video.addEventListener('error', () => showError(error, new Error('The browser could not play this video.')), { once: true });
        fill($('#run-result'), video);
      }
    } else {
      showError(error, new Error(end.error ? `The task ${end.status}: ${end.error.message}` : `The task was ${end.status}.`));
    }
  } catch (err) {
    showError(error, err);
    status.textContent = 'Stopped.';
  } finally {
    generate.disabled = false;
  }
});

// Custom elements: created from a face clip, then offered in the Element picker.
async function loadElements() {
  try {
    const list = await api('/v1/tasks?limit=100');
    const select = $('#element');
    const current = select.value;
    const elements = list.data.filter((t) => t.model === ELEMENT && t.status === 'completed' && t.result_data?.element_id);
    fill(select, h('option', { value: '' }, 'none'), elements.map((t) => h('option', { value: t.result_data.element_id }, `${t.result_data.element_name ?? t.result_data.element_id}`)));
    select.value = current;
  } catch (err) {
    showError(error, err);
  }
}

$('#face-file').addEventListener('change', (e) => takeFile('face', e.target.files[0]));
$('#face-url').addEventListener('input', (e) => (media.face = e.target.value.trim() || null));

$('#element-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const alert = $('#element-error');
  const status = $('#element-status');
  showError(alert, null);
  if (!media.face) return showError(alert, new Error('Add a face clip (a file or a URL) first.'));
  const name = $('#el-name').value.trim();
  try {
    const task = await api('/v1/videos/generations', {
      method: 'POST',
      body: { model: ELEMENT, model_params: { element_name: name, element_description: $('#el-desc').value.trim(), reference_type: 'video_refer', element_video_list: { video_url: media.face } } },
    });
    const end = await follow(task.id, (t) => (status.textContent = `Creating “${name}” · ${t.status} · ${t.progress}%`));
    if (end.status !== 'completed') throw new Error(end.error ? end.error.message : `The element task was ${end.status}.`);
    status.textContent = `Element “${name}” is ready: ${end.result_data.element_id}`;
    await loadElements();
  } catch (err) {
    status.textContent = '';
    showError(alert, err);
  }
});

loadElements();
