// What went wrong loading part of a view, in the server's words.
import { ApiError } from "../api.ts";
import type { Loaded } from "../useApi.ts";

export function Problem({ error, what }: { error: Error; what: string }) {
  const denied = error instanceof ApiError && error.status === 403;
  return (
    <p className={denied ? "muted" : "error"} role={denied ? undefined : "alert"}>
      {denied ? `Your role cannot read ${what}.` : `Could not load ${what}: ${error.message}`}
    </p>
  );
}

/** A view's data until it is ready: the loading line, or the problem in the server's words. */
export function Pending({
  loaded,
  loading,
  what,
}: {
  loaded: Loaded<unknown>;
  loading: string;
  what: string;
}) {
  if (loaded.state === "loading") return <p className="muted">{loading}</p>;
  if (loaded.state === "error") return <Problem error={loaded.error} what={what} />;
  return null;
}
