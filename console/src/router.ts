// Client-side routing under /console/: the path after the base, pushState to move, popstate to follow
// the browser's back and forward. The server answers index.html for every sub-path, so links reload fine.
import { useSyncExternalStore } from "react";

export const BASE = "/console/";
const CHANGE = "rampart:navigate";

function current(): string {
  const p = window.location.pathname;
  return p.startsWith(BASE) ? p.slice(BASE.length).replace(/\/+$/, "") : "";
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener("popstate", onChange);
  window.addEventListener(CHANGE, onChange);
  return () => {
    window.removeEventListener("popstate", onChange);
    window.removeEventListener(CHANGE, onChange);
  };
}

/** The route: the path below /console/ without slashes at either end ("" is the overview). */
export function useRoute(): string {
  return useSyncExternalStore(subscribe, current);
}

/** Moves to `to` (below /console/) without a reload. */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const url = BASE + to.replace(/^\/+/, "");
  if (opts.replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  window.dispatchEvent(new Event(CHANGE));
}
