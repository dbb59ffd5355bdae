import { useState, type FormEvent } from 'react';
import type { OcrClient } from '@ocr/client';
import { clientFor, session } from '../lib/session.js';
import type { WhoAmIT } from '../lib/types.js';

/** Sign in with an API token; it is checked with /v1/whoami and kept in sessionStorage. */
export function SignIn({
  onSignedIn,
}: {
  onSignedIn: (s: { token: string; client: OcrClient; me: WhoAmIT }) => void;
}) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const value = token.trim();
    const client = clientFor(value);
    try {
      const me = await client.whoami();
      if (me.role === 'worker')
        throw Object.assign(new Error('worker tokens cannot sign in to the console'), { code: 'forbidden' });
      session.save(value);
      onSignedIn({ token: value, client, me });
    } catch (err) {
      const e = err as { status?: number; message?: string };
      setError(
        e.status === 401
          ? 'That token is not valid (or has been revoked).'
          : (e.message ?? 'Could not reach the API.'),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="signin">
      <form className="signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <div className="brand brand-lg">
          <span className="logo" aria-hidden="true" /> Ops Control Room
        </div>
        <h1 id="signin-title">Sign in</h1>
        <p className="muted">
          Paste an API token (admin, operator or viewer). It is kept for this browser tab only.
        </p>
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          autoFocus
          required
          value={token}
          onChange={(e) => setToken(e.target.value)}
          placeholder="ocr_…"
        />
        {error && (
          <div className="error-line" role="alert">
            {error}
          </div>
        )}
        <button type="submit" className="btn-primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p className="muted small">
          Create one with <code>ocr tokens create --role operator</code>; <code>npm start</code> prints an
          admin token.
        </p>
      </form>
    </div>
  );
}
