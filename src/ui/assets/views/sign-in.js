import { api } from '../api.js';
import { $, showError } from '../dom.js';

const form = $('#sign-in-form');
const error = $('#error');
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  showError(error, null);
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const s = await api('/dashboard/session', { method: 'POST', body: { key: form.key.value } });
    form.reset();
    const next = new URLSearchParams(location.search).get('next');
    // Only our own pages: `next` must be a dashboard path.
    location.assign(next && /^\/dashboard\/[a-z]+$/.test(next) ? next : s.role === 'admin' ? '/dashboard/spend' : '/dashboard/playground');
  } catch (err) {
    showError(error, err);
    button.disabled = false;
  }
});
