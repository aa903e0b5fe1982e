// GitHub Issues as a ticket tracker, over the documented REST API (version 2022-11-28): create an
// issue, read its state, comment, and close (as completed) or reopen it. Works with GitHub
// Enterprise Server too: point `apiUrl` at its `/api/v3`.
import type { RemoteTicket, TicketDraft, TicketTracker } from "../model.ts";
import { createJsonClient, field, isNumber, isString, required } from "./http.ts";

export interface GitHubTrackerOptions {
  /** Default https://api.github.com. */
  apiUrl?: string | undefined;
  /** "owner/name" */
  repo: string;
  /** A fine-grained token with Issues read and write on the repository. */
  token: string;
  /** Added to every issue Rampart opens. */
  labels?: string[] | undefined;
  timeoutMs?: number | undefined;
}

const NAME = "github";

// GitHub's error body: a message, and for validation failures a list of field errors.
const explain = (body: unknown): string | undefined => {
  const message = field(body, "message");
  const errors = field(body, "errors");
  const details = Array.isArray(errors)
    ? errors
        .map((e) => [field(e, "field"), field(e, "code"), field(e, "message")].filter(isString).join(" "))
        .filter((s) => s.length > 0)
    : [];
  const parts = [
    isString(message) ? message : undefined,
    details.length ? `(${details.join("; ")})` : undefined,
  ];
  return parts.filter(isString).join(" ") || undefined;
};

export function createGitHubTracker(o: GitHubTrackerOptions): TicketTracker {
  const [owner, name, ...rest] = o.repo.split("/");
  if (!owner || !name || rest.length > 0)
    throw new Error(`github: repo must be "owner/name", got "${o.repo}"`);
  const client = createJsonClient({
    tracker: NAME,
    baseUrl: o.apiUrl ?? "https://api.github.com",
    headers: {
      Authorization: `Bearer ${o.token}`,
      Accept: "application/vnd.github+json",
      "X-GitHub-Api-Version": "2022-11-28",
      "User-Agent": "rampart-compliance",
    },
    secrets: [o.token],
    timeoutMs: o.timeoutMs,
    explain,
  });
  const issues = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/issues`;
  const number = (key: string) => {
    if (!/^[0-9]+$/.test(key)) throw new Error(`github: "${key}" is not an issue number`);
    return key;
  };
  const ticketOf = (op: string, body: unknown): RemoteTicket => ({
    key: String(required(NAME, op, field(body, "number"), "issue number", isNumber)),
    url: required(NAME, op, field(body, "html_url"), "html_url", isString),
    open: required(NAME, op, field(body, "state"), "state", isString) === "open",
  });
  const comment = async (op: string, key: string, text: string) => {
    await client.call(op, "POST", `${issues}/${number(key)}/comments`, { body: text });
  };

  return {
    name: NAME,
    async create(draft: TicketDraft) {
      const body = await client.call("create issue", "POST", issues, {
        title: draft.title,
        body: draft.body,
        labels: [...new Set([...(o.labels ?? []), ...draft.labels])],
      });
      return ticketOf("create issue", body);
    },
    async get(key) {
      return ticketOf("get issue", await client.call("get issue", "GET", `${issues}/${number(key)}`));
    },
    comment: (key, text) => comment("comment", key, text),
    // The comment goes first: if the state change then fails, the next sync still sees the issue
    // open, as our record says, and tries again.
    async close(key, text) {
      await comment("close issue", key, text);
      await client.call("close issue", "PATCH", `${issues}/${number(key)}`, {
        state: "closed",
        state_reason: "completed",
      });
    },
    async reopen(key, text) {
      await comment("reopen issue", key, text);
      await client.call("reopen issue", "PATCH", `${issues}/${number(key)}`, {
        state: "open",
        state_reason: "reopened",
      });
    },
  };
}
