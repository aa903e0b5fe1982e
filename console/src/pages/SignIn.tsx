// Sign-in with a pasted admin token or API key: checked against an endpoint that needs it, then kept
// in sessionStorage for this tab only. (Sign-in through the organisation's SSO comes in a later slice.)
import { type FormEvent, useState } from "react";
import { api, ApiError, storeToken } from "../api.ts";

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const value = token.trim();
    if (!value) {
      setError("Paste a token or an API key first.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api("/api/v1/compliance/status", { token: value });
      storeToken(value);
      onSignedIn();
    } catch (err) {
      // 403: the credential is valid but may not read compliance; the console still opens for it.
      if (err instanceof ApiError && err.status === 403) {
        storeToken(value);
        onSignedIn();
        return;
      }
      setError(
        err instanceof ApiError && err.status === 401
          ? "The server did not accept this token. Check that it is complete and not expired."
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="signin">
      <form className="card signin-card" onSubmit={submit} noValidate>
        <h1>Sign in to Rampart</h1>
        <label htmlFor="token">Admin token or API key</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-describedby="token-hint"
          aria-invalid={error ? true : undefined}
          aria-errormessage={error ? "token-error" : undefined}
        />
        <p id="token-hint" className="hint">
          On first run the server writes a bootstrap admin token to <code>admin.token</code> in its data
          directory (by default <code>.rampart/admin.token</code>). The token stays in this tab only.
        </p>
        {error && (
          <p id="token-error" className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
