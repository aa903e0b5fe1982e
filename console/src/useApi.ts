// Loads one API answer for a view: loading, the data, or the server's error, reloadable.
import { useCallback, useEffect, useState } from "react";
import { api, ApiError } from "./api.ts";

export type Loaded<T> =
  { state: "loading" } | { state: "ready"; data: T } | { state: "error"; error: ApiError | Error };

/** GETs `path` (null: nothing yet) and reloads when it changes or `reload` is called. */
export function useApi<T>(path: string | null): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  const [round, setRound] = useState(0);

  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    setLoaded({ state: "loading" });
    api<T>(path, { signal: abort.signal }).then(
      (data) => setLoaded({ state: "ready", data }),
      (error: Error) => {
        if (error.name !== "AbortError") setLoaded({ state: "error", error });
      },
    );
    return () => abort.abort();
  }, [path, round]);

  return [loaded, useCallback(() => setRound((r) => r + 1), [])];
}
