// Sign-in with a pasted admin token or API key: checked by asking the server whose it is, then kept
// in sessionStorage for this tab only. People sign in through SSO instead when the console is served
// behind a gateway route with an identity provider; they never see this form.
import { type FormEvent, useState } from "react";
import { ApiError, storeToken } from "../api.ts";
import { whoAmI } from "../session.ts";

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
      if (!(await whoAmI(value))) throw new Error("The server did not take the token; try again.");
      storeToken(value);
      onSignedIn();
    } catch (err) {
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
          directory (by default <code>.rampart/admin.token</code>). The token stays in this tab only. To sign
          in with your organisation's account, open the console through its gateway route.
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
