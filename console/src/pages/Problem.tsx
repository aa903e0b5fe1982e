// What went wrong loading part of a view, in the server's words.
import { ApiError } from "../api.ts";

export function Problem({ error, what }: { error: Error; what: string }) {
  const denied = error instanceof ApiError && error.status === 403;
  return (
    <p className={denied ? "muted" : "error"} role={denied ? undefined : "alert"}>
      {denied ? `Your role cannot read ${what}.` : `Could not load ${what}: ${error.message}`}
    </p>
  );
}
