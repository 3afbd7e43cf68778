// Every dashboard page: the Sign out control.
import { api } from './api.js';

const button = document.getElementById('sign-out');
button?.addEventListener('click', async () => {
  button.disabled = true;
  try {
    await api('/dashboard/session', { method: 'DELETE' });
  } finally {
    location.assign('/dashboard/sign-in');
  }
});
