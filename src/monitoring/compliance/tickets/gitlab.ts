// GitLab issues as a ticket tracker, over the documented REST API v4: create an issue in a
// project, read its state, add a note, and close or reopen it with a state event.
import type { RemoteTicket, TicketDraft, TicketTracker } from "../model.ts";
import { createJsonClient, field, isNumber, isString, required } from "./http.ts";

export interface GitLabTrackerOptions {
  /** The instance, e.g. https://gitlab.example.com (no /api/v4). */
  url: string;
  /** Numeric project id or its full path ("group/project"). */
  project: string | number;
  /** A project, group or personal access token with the api scope. */
  token: string;
  labels?: string[] | undefined;
  timeoutMs?: number | undefined;
}

const NAME = "gitlab";

// GitLab answers errors as {message} (a string, or per-field lists) or {error}.
const explain = (body: unknown): string | undefined => {
  const message = field(body, "message");
  if (isString(message)) return message;
  if (typeof message === "object" && message !== null)
    return Object.entries(message)
      .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(", ") : String(v)}`)
      .join("; ");
  const error = field(body, "error");
  return isString(error) ? error : undefined;
};

export function createGitLabTracker(o: GitLabTrackerOptions): TicketTracker {
  const client = createJsonClient({
    tracker: NAME,
    baseUrl: `${o.url.replace(/\/+$/, "")}/api/v4`,
    headers: { "PRIVATE-TOKEN": o.token, Accept: "application/json" },
    secrets: [o.token],
    timeoutMs: o.timeoutMs,
    explain,
  });
  const issues = `/projects/${encodeURIComponent(String(o.project))}/issues`;
  const iid = (key: string) => {
    if (!/^[0-9]+$/.test(key)) throw new Error(`gitlab: "${key}" is not an issue iid`);
    return key;
  };
  const ticketOf = (op: string, body: unknown): RemoteTicket => ({
    key: String(required(NAME, op, field(body, "iid"), "iid", isNumber)),
    url: required(NAME, op, field(body, "web_url"), "web_url", isString),
    open: required(NAME, op, field(body, "state"), "state", isString) === "opened",
  });
  const note = async (op: string, key: string, text: string) => {
    await client.call(op, "POST", `${issues}/${iid(key)}/notes`, { body: text });
  };

  return {
    name: NAME,
    async create(draft: TicketDraft) {
      const body = await client.call("create issue", "POST", issues, {
        title: draft.title,
        description: draft.body,
        labels: [...new Set([...(o.labels ?? []), ...draft.labels])].join(","),
      });
      return ticketOf("create issue", body);
    },
    async get(key) {
      return ticketOf("get issue", await client.call("get issue", "GET", `${issues}/${iid(key)}`));
    },
    comment: (key, text) => note("comment", key, text),
    // Note first, then the state event: a failed state change leaves the issue as our record says.
    async close(key, text) {
      await note("close issue", key, text);
      await client.call("close issue", "PUT", `${issues}/${iid(key)}`, { state_event: "close" });
    },
    async reopen(key, text) {
      await note("reopen issue", key, text);
      await client.call("reopen issue", "PUT", `${issues}/${iid(key)}`, { state_event: "reopen" });
    },
  };
}
