// Local stand-ins for three issue trackers, following their documented REST contracts closely
// enough to catch a client that strays: GitHub Issues (REST 2022-11-28), GitLab issues (API v4)
// and Jira (REST API v2 with a To Do / In Progress / Done workflow). In-memory issues, auth checked
// on every request (401 otherwise), bodies validated the way each documents, and hooks for tests:
// close an issue by hand, read the issues, make the next requests fail or hang.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type TrackerKind = "github" | "gitlab" | "jira";

/** An issue as every fake holds it, whatever the tracker calls things. */
export interface FakeIssue {
  key: string;
  title: string;
  body: string;
  labels: string[];
  open: boolean;
  /** Jira's status name; "open"/"closed" elsewhere. */
  status: string;
  comments: string[];
  /** Every change of state, in order: "closed", "reopened" (Jira: the status moved to). */
  changes: string[];
}

export interface FakeTracker {
  kind: TrackerKind;
  /** What the client's config points at (GitHub: the API root; GitLab and Jira: the site). */
  url: string;
  /** The only token the fake accepts. */
  token: string;
  /** GitHub "owner/name", GitLab "group/project", Jira project key. */
  project: string;
  /** Jira Cloud basic auth: the account the token belongs to. */
  email?: string;
  issues(): FakeIssue[];
  /** Someone closes the issue in the tracker's UI. */
  closeByHand(key: string): void;
  /** The next `n` requests answer `status` with the tracker's error body (an outage). */
  fail(n: number, status: number): void;
  /** The next `n` requests never answer (until the server closes). */
  hang(n: number): void;
  /** Jira only: the workflow offers only these transitions by name (undefined: all). */
  limitTransitions(names: string[] | undefined): void;
  /** Requests seen, as "METHOD /path". */
  requests: string[];
  close(): Promise<void>;
}

interface Answer {
  status: number;
  body?: unknown;
}

interface Reply {
  (status: number, body?: unknown): Answer;
}

const reply: Reply = (status, body) => ({ status, ...(body === undefined ? {} : { body }) });

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return Symbol.for("invalid-json");
  }
}

const obj = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

interface Handler {
  authorized(req: IncomingMessage): boolean;
  unauthorized: unknown;
  errorBody(status: number): unknown;
  route(method: string, parts: string[], query: URLSearchParams, body: unknown, req: IncomingMessage): Answer;
}

async function serve(
  kind: TrackerKind,
  make: (
    base: string,
    issues: Map<string, FakeIssue>,
    state: { transitions: string[] | undefined },
  ) => Handler,
  extra: { token: string; project: string; email?: string; urlSuffix?: string },
): Promise<FakeTracker> {
  const issues = new Map<string, FakeIssue>();
  const state = { transitions: undefined as string[] | undefined };
  const requests: string[] = [];
  let failing: { n: number; status: number } = { n: 0, status: 500 };
  let hanging = 0;
  const hung: ServerResponse[] = [];
  const ctx: { handler?: Handler } = {};

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://x");
      requests.push(`${req.method} ${url.pathname}`);
      const body = await readJson(req);
      if (hanging > 0) {
        hanging--;
        hung.push(res);
        return;
      }
      let a: Answer;
      if (failing.n > 0) {
        failing.n--;
        a = reply(failing.status, ctx.handler!.errorBody(failing.status));
      } else if (!ctx.handler!.authorized(req)) a = reply(401, ctx.handler!.unauthorized);
      else if (body === Symbol.for("invalid-json")) a = reply(400, ctx.handler!.errorBody(400));
      else {
        // Keep encoded slashes inside one segment (GitLab's URL-encoded project path).
        const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
        a = ctx.handler!.route(req.method ?? "GET", parts, url.searchParams, body, req);
      }
      res.statusCode = a.status;
      if (a.body === undefined) res.end();
      else {
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify(a.body));
      }
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ctx.handler = make(base, issues, state);
  return {
    kind,
    url: `${base}${extra.urlSuffix ?? ""}`,
    token: extra.token,
    project: extra.project,
    ...(extra.email ? { email: extra.email } : {}),
    issues: () =>
      [...issues.values()].map((i) => ({ ...i, labels: [...i.labels], comments: [...i.comments] })),
    closeByHand(key) {
      const i = issues.get(key);
      if (!i) throw new Error(`no issue ${key}`);
      i.open = false;
      i.status = kind === "jira" ? "Done" : "closed";
      i.changes.push(kind === "jira" ? "Done" : "closed");
    },
    fail(n, status) {
      failing = { n, status };
    },
    hang(n) {
      hanging = n;
    },
    limitTransitions(names) {
      state.transitions = names;
    },
    requests,
    async close() {
      for (const r of hung) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// GitHub: /repos/{owner}/{repo}/issues…; bearer token; 422 "Validation Failed" with field errors.

export function startGitHub(token = "ghp_fake_token_0123456789"): Promise<FakeTracker> {
  const repo = ["acme", "platform"];
  return serve(
    "github",
    (base, issues) => {
      const invalid = (field: string, code = "missing_field") => ({
        message: "Validation Failed",
        errors: [{ resource: "Issue", field, code }],
      });
      const issueJson = (i: FakeIssue) => ({
        number: Number(i.key),
        html_url: `${base}/${repo.join("/")}/issues/${i.key}`,
        state: i.open ? "open" : "closed",
        title: i.title,
        body: i.body,
        labels: i.labels.map((name) => ({ name })),
      });
      return {
        authorized: (req) =>
          req.headers.authorization === `Bearer ${token}` &&
          typeof req.headers["user-agent"] === "string" &&
          req.headers["user-agent"].length > 0,
        unauthorized: { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" },
        errorBody: (status) => ({ message: status >= 500 ? "Server Error" : "Problems parsing JSON" }),
        route(method, parts, _q, body) {
          const [r, owner, name, col, num, sub, ...more] = parts;
          if (r !== "repos" || owner !== repo[0] || name !== repo[1] || col !== "issues" || more.length)
            return reply(404, { message: "Not Found" });
          const b = obj(body);
          if (num === undefined) {
            if (method !== "POST") return reply(404, { message: "Not Found" });
            const title = b.title;
            if (typeof title !== "string" || title.length === 0) return reply(422, invalid("title"));
            if (
              b.labels !== undefined &&
              (!Array.isArray(b.labels) || !b.labels.every((l) => typeof l === "string"))
            )
              return reply(422, invalid("labels", "invalid"));
            const key = String(issues.size + 1);
            const i: FakeIssue = {
              key,
              title,
              body: str(b.body) ?? "",
              labels: (b.labels as string[] | undefined) ?? [],
              open: true,
              status: "open",
              comments: [],
              changes: [],
            };
            issues.set(key, i);
            return reply(201, issueJson(i));
          }
          const i = issues.get(num);
          if (!i) return reply(404, { message: "Not Found" });
          if (sub === "comments") {
            if (method !== "POST") return reply(404, { message: "Not Found" });
            const text = str(b.body);
            if (!text)
              return reply(422, {
                message: "Validation Failed",
                errors: [{ resource: "IssueComment", field: "body", code: "missing_field" }],
              });
            i.comments.push(text);
            return reply(201, { id: i.comments.length, body: text });
          }
          if (sub !== undefined) return reply(404, { message: "Not Found" });
          if (method === "GET") return reply(200, issueJson(i));
          if (method !== "PATCH") return reply(404, { message: "Not Found" });
          if (b.state !== undefined) {
            if (b.state !== "open" && b.state !== "closed") return reply(422, invalid("state", "invalid"));
            if (
              b.state_reason !== undefined &&
              b.state_reason !== null &&
              !["completed", "not_planned", "reopened"].includes(String(b.state_reason))
            )
              return reply(422, invalid("state_reason", "invalid"));
            const open = b.state === "open";
            if (open !== i.open) i.changes.push(open ? "reopened" : "closed");
            i.open = open;
            i.status = open ? "open" : "closed";
          }
          return reply(200, issueJson(i));
        },
      };
    },
    { token, project: repo.join("/") },
  );
}

// ---------------------------------------------------------------------------------------------
// GitLab: /api/v4/projects/:id/issues…; PRIVATE-TOKEN; 400 {error: "title is missing"}.

export function startGitLab(token = "glpat-fake-token-0123456789"): Promise<FakeTracker> {
  const project = { id: "17", path: "security/platform" };
  return serve(
    "gitlab",
    (base, issues) => {
      const issueJson = (i: FakeIssue) => ({
        id: 1000 + Number(i.key),
        iid: Number(i.key),
        project_id: Number(project.id),
        web_url: `${base}/${project.path}/-/issues/${i.key}`,
        state: i.open ? "opened" : "closed",
        title: i.title,
        description: i.body,
        labels: i.labels,
      });
      return {
        authorized: (req) => req.headers["private-token"] === token,
        unauthorized: { message: "401 Unauthorized" },
        errorBody: (status) => ({ message: status >= 500 ? "500 Internal Server Error" : "400 Bad request" }),
        route(method, parts, _q, body) {
          const [api, v4, projects, id, col, num, sub, ...more] = parts;
          if (api !== "api" || v4 !== "v4" || projects !== "projects" || col !== "issues" || more.length)
            return reply(404, { error: "404 Not Found" });
          if (id !== project.id && id !== project.path)
            return reply(404, { message: "404 Project Not Found" });
          const b = obj(body);
          if (num === undefined) {
            if (method !== "POST") return reply(404, { error: "404 Not Found" });
            const title = str(b.title);
            if (!title) return reply(400, { error: "title is missing" });
            if (b.labels !== undefined && typeof b.labels !== "string" && !Array.isArray(b.labels))
              return reply(400, { error: "labels is invalid" });
            const labels = Array.isArray(b.labels)
              ? b.labels.map(String)
              : (str(b.labels) ?? "")
                  .split(",")
                  .map((l) => l.trim())
                  .filter(Boolean);
            const key = String(issues.size + 1);
            const i: FakeIssue = {
              key,
              title,
              body: str(b.description) ?? "",
              labels,
              open: true,
              status: "opened",
              comments: [],
              changes: [],
            };
            issues.set(key, i);
            return reply(201, issueJson(i));
          }
          const i = issues.get(num);
          if (!i) return reply(404, { message: "404 Not found" });
          if (sub === "notes") {
            if (method !== "POST") return reply(404, { error: "404 Not Found" });
            const text = str(b.body);
            if (!text) return reply(400, { error: "body is missing" });
            i.comments.push(text);
            return reply(201, { id: i.comments.length, body: text, noteable_iid: i.key });
          }
          if (sub !== undefined) return reply(404, { error: "404 Not Found" });
          if (method === "GET") return reply(200, issueJson(i));
          if (method !== "PUT") return reply(404, { error: "404 Not Found" });
          if (b.state_event !== undefined) {
            if (b.state_event !== "close" && b.state_event !== "reopen")
              return reply(400, { error: "state_event does not have a valid value" });
            const open = b.state_event === "reopen";
            if (open !== i.open) i.changes.push(open ? "reopened" : "closed");
            i.open = open;
            i.status = open ? "opened" : "closed";
          }
          return reply(200, issueJson(i));
        },
      };
    },
    { token, project: project.path },
  );
}

// ---------------------------------------------------------------------------------------------
// Jira: /rest/api/2/issue…; Cloud basic (email:token) or Data Center bearer; 400 with
// {errorMessages, errors}; a three-status workflow moved only by its transitions.

const STATUSES = {
  "To Do": { id: "10000", category: { key: "new", name: "To Do" } },
  "In Progress": { id: "3", category: { key: "indeterminate", name: "In Progress" } },
  Done: { id: "10001", category: { key: "done", name: "Done" } },
} as const;
type Status = keyof typeof STATUSES;

const WORKFLOW: Record<Status, { id: string; name: string; to: Status }[]> = {
  "To Do": [
    { id: "11", name: "Start Progress", to: "In Progress" },
    { id: "31", name: "Done", to: "Done" },
  ],
  "In Progress": [
    { id: "21", name: "Stop Progress", to: "To Do" },
    { id: "31", name: "Done", to: "Done" },
  ],
  Done: [{ id: "41", name: "Reopen", to: "To Do" }],
};

export function startJira(
  o: { auth?: "basic" | "bearer"; token?: string; email?: string } = {},
): Promise<FakeTracker> {
  const token = o.token ?? "jira-fake-token-0123456789";
  const email = o.email ?? "compliance-bot@example.com";
  const mode = o.auth ?? "basic";
  const projectKey = "SEC";
  return serve(
    "jira",
    (base, issues, state) => {
      const err = (errors: Record<string, string>, errorMessages: string[] = []) => ({
        errorMessages,
        errors,
      });
      const statusOf = (i: FakeIssue) => i.status as Status;
      const available = (i: FakeIssue) =>
        WORKFLOW[statusOf(i)].filter((t) => !state.transitions || state.transitions.includes(t.name));
      const statusJson = (s: Status) => ({
        name: s,
        id: STATUSES[s].id,
        statusCategory: { key: STATUSES[s].category.key, name: STATUSES[s].category.name },
      });
      const expected =
        mode === "basic" ? `Basic ${Buffer.from(`${email}:${token}`).toString("base64")}` : `Bearer ${token}`;
      return {
        authorized: (req) => req.headers.authorization === expected,
        unauthorized: err({}, [
          "You are not authenticated. Authentication required to perform this operation.",
        ]),
        errorBody: (status) => err({}, [status >= 500 ? "Internal server error" : "Bad request"]),
        route(method, parts, query, body) {
          const [rest, api, v, col, key, sub, ...more] = parts;
          if (rest !== "rest" || api !== "api" || v !== "2" || col !== "issue" || more.length)
            return reply(404, err({}, ["Not found"]));
          const b = obj(body);
          if (key === undefined) {
            if (method !== "POST") return reply(405, err({}, ["Method not allowed"]));
            const f = obj(b.fields);
            const errors: Record<string, string> = {};
            if (str(obj(f.project).key) !== projectKey) errors.project = "valid project is required";
            if (!["Task", "Bug"].includes(str(obj(f.issuetype).name) ?? ""))
              errors.issuetype = "valid issue type is required";
            const summary = str(f.summary);
            if (!summary) errors.summary = "You must specify a summary of the issue.";
            else if (summary.length > 255) errors.summary = "Summary must be less than 255 characters.";
            if (f.description !== undefined && typeof f.description !== "string")
              errors.description = "Operation value must be a string";
            const labels = f.labels ?? [];
            if (!Array.isArray(labels) || labels.some((l) => typeof l !== "string" || /\s/.test(l)))
              errors.labels = "The label must not contain spaces.";
            if (Object.keys(errors).length) return reply(400, err(errors));
            const n = issues.size + 1;
            const k = `${projectKey}-${n}`;
            issues.set(k, {
              key: k,
              title: summary!,
              body: str(f.description) ?? "",
              labels: labels as string[],
              open: true,
              status: "To Do",
              comments: [],
              changes: [],
            });
            return reply(201, {
              id: String(10_000 + n),
              key: k,
              self: `${base}/rest/api/2/issue/${10_000 + n}`,
            });
          }
          const i = issues.get(key);
          if (!i)
            return reply(404, err({}, ["Issue does not exist or you do not have permission to see it."]));
          if (sub === undefined) {
            if (method !== "GET") return reply(405, err({}, ["Method not allowed"]));
            const fields = (query.get("fields") ?? "").split(",");
            return reply(200, {
              id: String(10_000 + Number(key.split("-")[1])),
              key,
              fields: fields.includes("status") ? { status: statusJson(statusOf(i)) } : {},
            });
          }
          if (sub === "comment") {
            if (method !== "POST") return reply(405, err({}, ["Method not allowed"]));
            const text = str(b.body);
            if (!text) return reply(400, err({ comment: "Comment body can not be empty!" }));
            i.comments.push(text);
            return reply(201, { id: String(i.comments.length), body: text });
          }
          if (sub !== "transitions") return reply(404, err({}, ["Not found"]));
          if (method === "GET")
            return reply(200, {
              expand: "transitions",
              transitions: available(i).map((t) => ({ id: t.id, name: t.name, to: statusJson(t.to) })),
            });
          if (method !== "POST") return reply(405, err({}, ["Method not allowed"]));
          const id = str(obj(b.transition).id);
          const t = available(i).find((x) => x.id === id);
          if (!t) return reply(400, err({}, [`Transition id '${id ?? ""}' is not valid for this issue.`]));
          i.status = t.to;
          i.open = STATUSES[t.to].category.key !== "done";
          i.changes.push(t.to);
          return reply(204);
        },
      };
    },
    { token, project: projectKey, ...(mode === "basic" ? { email } : {}) },
  );
}

export function startTracker(kind: TrackerKind): Promise<FakeTracker> {
  return kind === "github" ? startGitHub() : kind === "gitlab" ? startGitLab() : startJira();
}
