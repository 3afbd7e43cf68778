/** Sign-in: a key (admin or API) becomes a session cookie; the key itself is never stored by the page. */
import { Alert } from '../layout.tsx';

export function SignInView(props: { linkUsed: boolean }) {
  return (
    <section class="panel signin">
      <h1>Sign in</h1>
      <p class="muted">Use the admin key to see spend, providers and keys, or an API key to try the Playground and see its own tasks and usage.</p>
      {props.linkUsed && <p class="notice">That sign-in link was already used or has expired. Sign in with a key instead.</p>}
      <form id="sign-in-form" autocomplete="off">
        <div class="field">
          <label for="key">API key</label>
          <input id="key" name="key" type="password" placeholder="rr_…" required autofocus />
        </div>
        <Alert />
        <button type="submit">Sign in</button>
      </form>
    </section>
  );
}
