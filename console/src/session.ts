// Who is signed in and what their roles let them do, asked of the server (GET /api/v1/me) rather
// than guessed from role names, so a button is offered only when the call behind it would pass.
// Questions asked in the same tick go out as one request; answers are kept until sign-out.
import { useCallback, useSyncExternalStore } from "react";
import { api } from "./api.ts";

export interface Me {
  signedIn: true;
  subject: string;
  kind: "user" | "service";
  email?: string;
  roles: string[];
  /** "session" when signed in through SSO at the gateway in front of the console. */
  credential: string;
  can: Record<string, boolean>;
}

const answers = new Map<string, boolean>();
const asked = new Set<string>();
const listeners = new Set<() => void>();
let queued: string[] = [];
let generation = 0;

const notify = () => {
  for (const l of listeners) l();
};

function ask(action: string): void {
  if (asked.has(action)) return;
  asked.add(action);
  queued.push(action);
  if (queued.length > 1) return;
  const started = generation;
  queueMicrotask(() => {
    const batch = queued;
    queued = [];
    api<Me>(`/api/v1/me?can=${encodeURIComponent(batch.join(","))}`).then(
      (me) => {
        if (started !== generation) return;
        for (const a of batch) answers.set(a, me.can[a] === true);
        notify();
      },
      // Unanswered: the button stays offered and the server's 403 explains, as before.
      () => batch.forEach((a) => asked.delete(a)),
    );
  });
}

/** Whether the signed-in caller may perform `action`: undefined until the server has answered. */
export function useCan(action: string): boolean | undefined {
  // Stable per action, so React subscribes once rather than on every render.
  const subscribe = useCallback(
    (l: () => void) => {
      listeners.add(l);
      ask(action);
      return () => listeners.delete(l);
    },
    [action],
  );
  return useSyncExternalStore(subscribe, () => answers.get(action));
}

/** The words beside a control the caller's roles do not allow. */
export const notAllowed = (action: string) => `Your roles do not include ${action}.`;

/** Forgets every answer (sign-out, or another credential). */
export function forgetPermissions(): void {
  generation++;
  answers.clear();
  asked.clear();
  queued = [];
  notify();
}

/**
 * Who the current credential (a stored token, or the gateway's SSO session) belongs to; null when
 * the request carried none. A credential the server refuses is an ApiError (401).
 */
export async function whoAmI(token?: string): Promise<Me | null> {
  const me = await api<Me | { signedIn: false }>("/api/v1/me", token ? { token } : {});
  return me.signedIn ? me : null;
}
