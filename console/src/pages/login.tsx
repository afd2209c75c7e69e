// Sign in with an admin token: the server answers with an HttpOnly session cookie and a CSRF token
// the console keeps in memory.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { logIn } from '../api/http.ts';
import { ErrorBox } from '../ui.tsx';

export function LoginPage() {
  const [token, setToken] = useState('');
  const [error, setError] = useState<Error | undefined>(undefined);
  const submit = (event: JSX.TargetedEvent<HTMLFormElement>): void => {
    event.preventDefault();
    logIn(token).then(
      () => setError(undefined),
      (failure: unknown) => setError(failure instanceof Error ? failure : new Error(String(failure))),
    );
  };
  return (
    <form class="login card" onSubmit={submit}>
      <h1>payout-pipeline console</h1>
      <label>
        Admin token
        <input name="token" type="password" autocomplete="current-password" required value={token} onInput={(event: JSX.TargetedEvent<HTMLInputElement>) => setToken(event.currentTarget.value)} />
      </label>
      <button type="submit">Sign in</button>
      <ErrorBox error={error} />
    </form>
  );
}
