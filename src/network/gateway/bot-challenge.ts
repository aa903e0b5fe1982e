// The bot challenge: a page whose inline script finds a proof of work (a nonce such that
// SHA-256(token + nonce) starts with N zero bits, through WebCrypto), posts it to a path the
// gateway reserves, and gets back a short-lived clearance cookie. Both the challenge token and the
// cookie are HMAC-signed and bound to the client IP and user agent, so nothing is stored and any
// replica holding the same secret can check them.
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Clock } from "../../platform/clock.ts";
import { sendError } from "./error-page.ts";

/** Where the challenge page posts its solution; reserved on every host while a route has `bots`. */
export const CHALLENGE_PATH = "/.rampart/challenge";
export const CLEARANCE_COOKIE = "__rampart_bot";
/** Long enough to solve on a slow phone, short enough that a harvested token soon goes stale. */
const CHALLENGE_TTL_S = 300;
const MAX_FORM_BYTES = 4096;
const MAX_RETURN_PATH = 2048;

export interface BotClearance {
  /** A signed challenge for this client, to be solved at `bits` and answered within 5 minutes. */
  challenge(o: ChallengeFor): string;
  /** Checks a solved challenge; on success, the Set-Cookie value and where to send the browser. */
  redeem(token: string, nonce: string, client: string, userAgent: string, secure: boolean): Redeemed;
  /** Whether the request carries a valid cookie for this client earned at `bits` or more. */
  /**
   * Whether the request carries a clearance for this client, earned at `minBits` or harder, that
   * expires within `maxTtlS` (a cookie from a route with a longer lifetime does not stretch this one's).
   */
  cleared(headers: IncomingHttpHeaders, client: string, minBits: number, maxTtlS: number): boolean;
}

export interface ChallengeFor {
  client: string;
  userAgent: string;
  bits: number;
  cookieTtlSeconds: number;
  /** The path (and query) the browser asked for; anything else becomes "/". */
  returnTo: string;
}

export type Redeemed =
  | { ok: true; setCookie: string; returnTo: string }
  /** `stale`: a genuine challenge that expired, so the browser should simply get a new one. */
  | { ok: false; reason: "stale"; returnTo: string }
  | { ok: false; reason: "forged" | "unsolved" };

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");
const uaDigest = (ua: string) => createHash("sha256").update(ua).digest("base64url");

/** A same-origin path to send the browser back to, never another site (`//evil`, `/\evil`). */
export function safeReturnPath(p: string): string {
  if (p.length > MAX_RETURN_PATH || !p.startsWith("/") || p.startsWith("//") || p.startsWith("/\\"))
    return "/";
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\u0000-\u001f\u007f\\]/.test(p) || p.startsWith(CHALLENGE_PATH)) return "/";
  return p;
}

/** Leading zero bits of a SHA-256 digest, as the page's script counts them. */
export function hasLeadingZeroBits(digest: Buffer, bits: number): boolean {
  let i = 0;
  let left = bits;
  for (; left >= 8; left -= 8) if (digest[i++] !== 0) return false;
  return left === 0 || (digest[i] as number) >> (8 - left) === 0;
}

export function createBotClearance(o: { secret?: string | undefined; clock: Clock }): BotClearance {
  // Separate keys, so a challenge token can never pass as a cookie or the other way round.
  const root = o.secret ?? randomBytes(32);
  const key = (purpose: string) => Buffer.from(hkdfSync("sha256", root, "", `rampart bots ${purpose}`, 32));
  const challengeKey = key("challenge");
  const cookieKey = key("clearance");
  const mac = (k: Buffer, data: string) => createHmac("sha256", k).update(data).digest();
  // Compared as text, so another spelling of the same bytes (base64's spare bits) is no match.
  const same = (given: string, expected: Buffer) => {
    const g = Buffer.from(given);
    const e = Buffer.from(expected.toString("base64url"));
    return g.length === e.length && timingSafeEqual(g, e);
  };
  const nowS = () => Math.floor(o.clock.now().getTime() / 1000);

  return {
    challenge(c) {
      const fields = [
        "1",
        String(nowS() + CHALLENGE_TTL_S),
        String(c.bits),
        String(c.cookieTtlSeconds),
        b64url(randomBytes(12)),
        b64url(safeReturnPath(c.returnTo)),
      ].join(".");
      const m = mac(challengeKey, `${fields}\n${c.client}\n${uaDigest(c.userAgent)}`);
      return `${fields}.${b64url(m)}`;
    },

    redeem(token, nonce, client, userAgent, secure) {
      const parts = token.split(".");
      if (parts.length !== 7 || parts[0] !== "1") return { ok: false, reason: "forged" };
      const [, exp, bits, ttl, , ret, given] = parts as [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      const fields = parts.slice(0, 6).join(".");
      if (!same(given, mac(challengeKey, `${fields}\n${client}\n${uaDigest(userAgent)}`)))
        return { ok: false, reason: "forged" };
      const returnTo = safeReturnPath(Buffer.from(ret, "base64url").toString("utf8"));
      if (Number(exp) < nowS()) return { ok: false, reason: "stale", returnTo };
      if (!/^[0-9]{1,16}$/.test(nonce)) return { ok: false, reason: "unsolved" };
      if (
        !hasLeadingZeroBits(
          createHash("sha256")
            .update(token + nonce)
            .digest(),
          Number(bits),
        )
      )
        return { ok: false, reason: "unsolved" };
      const until = nowS() + Number(ttl);
      const value = `${until}.${bits}`;
      const cookie = `${value}.${b64url(mac(cookieKey, `${value}\n${client}\n${uaDigest(userAgent)}`))}`;
      const attributes = `Path=/; Max-Age=${ttl}; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
      return { ok: true, setCookie: `${CLEARANCE_COOKIE}=${cookie}; ${attributes}`, returnTo };
    },

    cleared(headers, client, minBits, maxTtlS) {
      const cookie = clearanceCookie(headers.cookie);
      if (cookie === undefined) return false;
      const parts = cookie.split(".");
      if (parts.length !== 3) return false;
      const [until, bits, given] = parts as [string, string, string];
      if (!/^[0-9]{1,12}$/.test(until) || !/^[0-9]{1,2}$/.test(bits)) return false;
      const expected = mac(
        cookieKey,
        `${until}.${bits}\n${client}\n${uaDigest(headers["user-agent"] ?? "")}`,
      );
      const left = Number(until) - nowS();
      return same(given, expected) && left > 0 && left <= maxTtlS && Number(bits) >= minBits;
    },
  };
}

function clearanceCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq !== -1 && pair.slice(0, eq).trim() === CLEARANCE_COOKIE) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Cookie header without ours: the upstream has no use for it. */
export function withoutClearanceCookie(header: string): string | undefined {
  const kept = header.split(";").filter((pair) => pair.split("=", 1)[0]?.trim() !== CLEARANCE_COOKIE);
  const joined = kept
    .map((p) => p.trim())
    .filter(Boolean)
    .join("; ");
  return joined === "" ? undefined : joined;
}

// The solver, kept static so the page's CSP can allow it by hash. Digests go in batches: one
// awaited digest at a time spends most of its time in promise hand-offs.
const SOLVER = `(async () => {
  const form = document.getElementById("rampart-challenge");
  const status = document.getElementById("rampart-status");
  if (!window.crypto || !crypto.subtle) {
    status.textContent = "This check needs a secure (HTTPS) connection.";
    return;
  }
  const token = form.elements.token.value;
  const bits = Number(form.dataset.bits);
  const text = new TextEncoder();
  const enough = (h) => {
    let left = bits, i = 0;
    for (; left >= 8; left -= 8) if (h[i++] !== 0) return false;
    return left === 0 || h[i] >> (8 - left) === 0;
  };
  const BATCH = 256;
  for (let n = 0; ; n += BATCH) {
    const batch = [];
    for (let k = 0; k < BATCH; k++) batch.push(crypto.subtle.digest("SHA-256", text.encode(token + (n + k))));
    const found = (await Promise.all(batch)).findIndex((h) => enough(new Uint8Array(h)));
    if (found !== -1) {
      form.elements.nonce.value = String(n + found);
      form.submit();
      return;
    }
  }
})();`;
const SOLVER_HASH = createHash("sha256").update(SOLVER).digest("base64");
const PAGE_CSP = `default-src 'none'; script-src 'sha256-${SOLVER_HASH}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

const wantsHtml = (req: IncomingMessage) => (req.headers.accept ?? "").includes("text/html");

/**
 * The interstitial, as Cloudflare answers its challenges: 403, never cached, marked
 * `x-rampart-mitigated: challenge` so scripts can tell it from an app's own 403. A client that does
 * not take HTML (an API client, a script) gets the same refusal as JSON instead.
 */
export function sendChallenge(
  req: IncomingMessage,
  res: ServerResponse,
  token: string,
  bits: number,
  requestId: string,
): void {
  const mark = { "x-rampart-mitigated": "challenge" };
  if (!wantsHtml(req))
    return sendError(
      req,
      res,
      403,
      "this route admits browsers after a JavaScript check; automated clients need a service account",
      requestId,
      mark,
    );
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Checking your browser</title></head>
<body><h1>Checking your browser…</h1>
<p id="rampart-status">This takes a moment and needs JavaScript.</p>
<noscript><p>Turn on JavaScript and reload the page to continue.</p></noscript>
<form id="rampart-challenge" method="post" action="${CHALLENGE_PATH}" data-bits="${bits}">
<input type="hidden" name="token" value="${escapeHtml(token)}"><input type="hidden" name="nonce" value="">
</form>
<p>Request ID: <code>${escapeHtml(requestId)}</code></p>
<script>${SOLVER}</script></body></html>
`;
  res.writeHead(403, {
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "content-security-policy": PAGE_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-request-id": requestId,
    ...mark,
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const type = req.headers["content-type"] ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/**
 * Answers `POST /.rampart/challenge`: a valid solution earns the cookie and a 303 back to the page
 * the browser asked for; an expired one goes back there for a fresh challenge. Says what happened,
 * so a forged solution can be recorded.
 */
export async function answerChallenge(
  req: IncomingMessage,
  res: ServerResponse,
  o: { clearance: BotClearance; client: string; secure: boolean; requestId: string },
): Promise<"cleared" | "stale" | "failed" | "not_post"> {
  if (req.method !== "POST") {
    sendError(req, res, 405, "the browser check answers POST only", o.requestId, { allow: "POST" });
    return "not_post";
  }
  const form = await readForm(req).catch(() => undefined);
  const r = o.clearance.redeem(
    form?.get("token") ?? "",
    form?.get("nonce") ?? "",
    o.client,
    req.headers["user-agent"] ?? "",
    o.secure,
  );
  if (!r.ok && r.reason !== "stale") {
    sendError(req, res, 403, "the browser check failed; reload the page to try again", o.requestId);
    return "failed";
  }
  res.writeHead(303, {
    location: r.returnTo,
    "cache-control": "no-store",
    "x-request-id": o.requestId,
    "content-length": 0,
    ...(r.ok ? { "set-cookie": r.setCookie } : {}),
  });
  res.end();
  return r.ok ? "cleared" : "stale";
}
