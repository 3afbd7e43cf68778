/**
 * What API clients read about an upstream failure. A provider's own message can carry the
 * operator's account state or prices ("insufficient credits, balance $12.34"), so clients get a
 * fixed text per kind of failure. Only an input rejection keeps the upstream's words: they are about
 * the client's own input and tell the user what to fix. The raw message stays on the attempt row
 * (the admin task view shows it) and goes to the log.
 */

/** Fixed texts by what went wrong: adapter error kinds and the engine's own failure codes. */
const TEXT: Record<string, string> = {
  rate_limited: 'the provider is busy (rate limited)',
  auth: 'the provider is unavailable',
  unavailable: 'the provider is unavailable',
  bad_response: 'the provider answered unexpectedly',
  timeout: 'the provider did not answer in time',
  unknown_outcome: 'the provider did not answer in time; the outcome is unknown',
  not_found: 'the provider no longer knows the task',
  upstream_lost: 'the provider no longer knows the task',
  not_created: 'the request never reached the provider',
  provider_removed: 'the provider is no longer configured',
};

/** The text a client reads for a provider-side failure recorded under `code` (a kind, an engine code or the provider's own code). */
export function providerFailureText(code: string | null | undefined): string {
  return (code && Object.hasOwn(TEXT, code) ? TEXT[code] : undefined) ?? 'the provider failed';
}
