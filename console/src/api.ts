// The console's only way to the control plane: same-origin fetch with the bearer token kept in
// sessionStorage (gone when the tab closes), the server's JSON error message surfaced as is, and a
// 401 sending the operator back to sign-in.

const TOKEN_KEY = "rampart.console.token";

/** An API answer that was not 2xx, with the server's own message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  constructor(status: number, message: string, code?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

let onUnauthorized: () => void = () => undefined;

/** What to do when the server no longer accepts the token (the app shows sign-in). */
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

interface CallOptions {
  method?: "GET" | "POST" | "DELETE";
  body?: unknown;
  /** A token to try instead of the stored one (sign-in); a 401 then does not sign out. */
  token?: string;
  signal?: AbortSignal;
}

async function request(path: string, o: CallOptions): Promise<Response> {
  const token = o.token ?? storedToken();
  const headers: Record<string, string> = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (o.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, {
      method: o.method ?? "GET",
      headers,
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "The control plane did not answer; check that the server is running.");
  }
  if (res.ok) return res;
  let message = `${res.status} ${res.statusText}`.trim();
  let code: string | undefined;
  try {
    const body = (await res.json()) as { message?: string; error?: string };
    if (body.message) message = body.message;
    code = body.error;
  } catch {
    // Not JSON (a proxy's page): keep the status line.
  }
  if (res.status === 401 && o.token === undefined) {
    forgetToken();
    onUnauthorized();
  }
  throw new ApiError(res.status, message, code);
}

/** Calls `path` (GET unless told) and parses the JSON answer. */
export async function api<T>(path: string, o: CallOptions = {}): Promise<T> {
  return (await (await request(path, o)).json()) as T;
}

/** GET `path` as a Blob (reports), with the bearer token the report endpoints need. */
export async function apiBlob(path: string, o: CallOptions = {}): Promise<Blob> {
  return (await request(path, o)).blob();
}
