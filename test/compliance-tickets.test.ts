// Tickets that follow the test, on each tracker's documented API (local fakes of GitHub, GitLab
// and Jira) with the ticket table in real PostgreSQL: one ticket per failing item, quiet while
// nothing changes, closed when the item passes or is excepted, reopened when it regresses or is
// closed by hand, and tracker outages that change nothing so the next sync retries.
import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { ItemResult, ItemStanding, TicketTracker } from "../src/monitoring/compliance/model.ts";
import {
  createTicketSync,
  createTracker,
  fingerprintMarker,
  type TicketTables,
  type TicketsConfig,
  type TicketsConfigInput,
  ticketMigrations,
  ticketsConfigSchema,
  TrackerError,
} from "../src/monitoring/compliance/tickets/index.ts";
import { manualClock } from "../src/platform/clock.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import { backends, openTestStore, type TestStore } from "./support/stores.ts";
import { type FakeTracker, startJira, startTracker, type TrackerKind } from "./support/trackers.ts";

const CHECK = "secrets.rotation-age";
const fingerprintOf = (resource: string) =>
  createHash("sha256").update(`${CHECK}\n${resource}`).digest("hex");

const statusOf = (s: ItemStanding): ItemResult["status"] =>
  s === "passing" ? "pass" : s === "not_applicable" ? "not_applicable" : "fail";

const item = (
  resource: string,
  standing: ItemStanding,
  detail: string,
  lastRunAt = new Date("2026-11-20T10:00:00Z"),
  extra: Partial<ItemResult> = {},
): ItemResult => ({
  checkId: CHECK,
  resource,
  standing,
  status: statusOf(standing),
  detail,
  fingerprint: fingerprintOf(resource),
  lastRunAt,
  ...(standing === "passing" ? {} : { firstFailedAt: new Date("2026-11-01T00:00:00Z") }),
  ...(standing === "passing" ? {} : { dueAt: new Date("2026-11-30T00:00:00Z") }),
  ...extra,
});

const info = () => ({
  title: "Secrets are rotated on schedule",
  remediation: "Rotate the secret and shorten its rotation interval.",
  controls: ["ZT-DATA-004"],
});

const configInput = (t: FakeTracker, over: Partial<Record<string, unknown>> = {}): TicketsConfigInput => {
  const common = { token: t.token, ...over };
  if (t.kind === "github")
    return { provider: "github", apiUrl: t.url, repo: t.project, ...common } as TicketsConfigInput;
  if (t.kind === "gitlab")
    return { provider: "gitlab", url: t.url, project: t.project, ...common } as TicketsConfigInput;
  return {
    provider: "jira",
    url: t.url,
    project: t.project,
    email: t.email,
    ...common,
  } as TicketsConfigInput;
};

// What each tracker says when a ticket has no title, in its own words.
const ownValidationWords: Record<TrackerKind, RegExp> = {
  github: /HTTP 422: Validation Failed \(title missing_field\)/,
  gitlab: /HTTP 400: title is missing/,
  jira: /HTTP 400: summary: You must specify a summary/,
};

describe.each(["github", "gitlab", "jira"] as const)("tickets on %s", (kind) => {
  let t: TestStore;
  let fake: FakeTracker;
  let n = 0;
  beforeAll(async () => {
    t = await openTestStore("postgres", ticketMigrations);
  });
  afterAll(() => t.cleanup());
  afterEach(() => fake.close());

  const rows = () => t.store.db.withTables<TicketTables>().selectFrom("compliance_tickets").selectAll();

  /** A fresh fake tracker and a sync over it; every test has its own resources. */
  async function setup(over: Partial<Record<string, unknown>> = {}) {
    fake = await startTracker(kind);
    const config: TicketsConfig = ticketsConfigSchema.parse(configInput(fake, over));
    const tracker = createTracker(config);
    const events: SecurityEvent[] = [];
    const clock = manualClock("2026-11-20T12:00:00Z");
    const sync = createTicketSync({ db: t.store.db, tracker, config, clock, emit: (e) => events.push(e) });
    n++;
    const res = (name: string) => `secret:${kind}/${n}/${name}`;
    return { config, tracker, events, clock, sync, res };
  }

  test("a failing item opens one ticket; the same failure again opens none and says nothing", async () => {
    const { sync, res, events } = await setup();
    const r = item(res("db"), "failing", "rotated 97 days ago (every 90)");
    expect(await sync.sync([r], info)).toEqual({
      opened: 1,
      commented: 0,
      closed: 0,
      reopened: 0,
      errors: [],
    });
    const [issue] = fake.issues();
    expect(fake.issues()).toHaveLength(1);
    expect(issue!.title).toBe(`Secrets are rotated on schedule: ${r.resource}`);
    expect(issue!.body).toContain(fingerprintMarker(r.fingerprint));
    expect(issue!.body).toContain("rotated 97 days ago (every 90)");
    expect(issue!.body).toContain("Rotate the secret");
    expect(issue!.body).toContain("2026-11-30");
    expect(issue!.labels).toContain("compliance");
    expect(issue!.open).toBe(true);

    expect(await sync.sync([r], info)).toEqual({
      opened: 0,
      commented: 0,
      closed: 0,
      reopened: 0,
      errors: [],
    });
    expect(fake.issues()).toHaveLength(1);
    expect(fake.issues()[0]!.comments).toEqual([]);

    const [row] = await rows().where("fingerprint", "=", r.fingerprint).execute();
    expect(row).toMatchObject({
      provider: kind,
      remote_key: issue!.key,
      state: "open",
      passes: 0,
      check_id: CHECK,
    });
    expect(events.map((e) => [e.type, e.data])).toEqual([
      [
        "compliance.ticket_opened",
        { checkId: CHECK, resource: r.resource, provider: kind, key: issue!.key, url: row!.url },
      ],
    ]);
    expect(JSON.stringify(events)).not.toContain(fake.token);
  });

  test("only the standings in `on` open a ticket; passing items never do", async () => {
    const { sync, res } = await setup({ on: ["overdue"] });
    const s = await sync.sync(
      [item(res("a"), "at_risk", "x"), item(res("b"), "passing", "ok"), item(res("c"), "overdue", "late")],
      info,
    );
    expect(s.opened).toBe(1);
    expect(fake.issues().map((i) => i.title)).toEqual([`Secrets are rotated on schedule: ${res("c")}`]);
  });

  test("a changed detail or standing adds exactly one comment each", async () => {
    const { sync, res } = await setup();
    await sync.sync([item(res("db"), "failing", "rotated 97 days ago (every 90)")], info);
    const s = await sync.sync([item(res("db"), "failing", "rotated 98 days ago (every 90)")], info);
    expect(s).toMatchObject({ opened: 0, commented: 1 });
    await sync.sync([item(res("db"), "failing", "rotated 98 days ago (every 90)")], info);
    await sync.sync([item(res("db"), "overdue", "rotated 98 days ago (every 90)")], info);
    const [issue] = fake.issues();
    expect(issue!.comments).toHaveLength(2);
    expect(issue!.comments[0]).toContain("rotated 98 days ago");
    expect(issue!.comments[1]).toContain("overdue");
  });

  test("a passing item closes its ticket, naming the pass time and the evidence", async () => {
    const { sync, res, events } = await setup();
    await sync.sync([item(res("db"), "failing", "rotated 97 days ago")], info);
    const pass = item(
      res("db"),
      "passing",
      "rotated 2 days ago (every 90)",
      new Date("2026-11-21T08:30:00Z"),
    );
    expect(await sync.sync([pass], info)).toMatchObject({ closed: 1, errors: [] });
    const [issue] = fake.issues();
    expect(issue!.open).toBe(false);
    expect(issue!.comments.at(-1)).toContain("2026-11-21T08:30:00.000Z");
    expect(issue!.comments.at(-1)).toContain("rotated 2 days ago (every 90)");
    const [row] = await rows().where("fingerprint", "=", pass.fingerprint).execute();
    expect(row).toMatchObject({ state: "closed" });
    expect(row!.closed_at).toBeInstanceOf(Date);
    expect(events.map((e) => e.type)).toEqual(["compliance.ticket_opened", "compliance.ticket_closed"]);
    // Passing again changes nothing.
    expect(await sync.sync([pass], info)).toEqual({
      opened: 0,
      commented: 0,
      closed: 0,
      reopened: 0,
      errors: [],
    });
  });

  test("closeAfterPasses 2 waits for two passing runs in a row; a failure in between starts over", async () => {
    const { sync, res } = await setup({ closeAfterPasses: 2 });
    const fail = item(res("db"), "failing", "rotated 97 days ago");
    const pass = item(res("db"), "passing", "rotated 1 day ago");
    await sync.sync([fail], info);
    expect((await sync.sync([pass], info)).closed).toBe(0);
    expect(fake.issues()[0]!.open).toBe(true);
    // Fails again with the same detail: no comment, but the count of passes starts over.
    expect(await sync.sync([fail], info)).toMatchObject({ commented: 0, closed: 0 });
    expect((await sync.sync([pass], info)).closed).toBe(0);
    expect(fake.issues()[0]!.open).toBe(true);
    expect((await sync.sync([pass], info)).closed).toBe(1);
    expect(fake.issues()[0]!.open).toBe(false);
    expect(fake.issues()[0]!.comments.at(-1)).toContain("2 passing runs");
  });

  test("an item that fails again reopens the same ticket", async () => {
    const { sync, res, events } = await setup();
    await sync.sync([item(res("db"), "failing", "rotated 97 days ago")], info);
    await sync.sync([item(res("db"), "passing", "rotated 1 day ago")], info);
    const s = await sync.sync([item(res("db"), "failing", "rotated 91 days ago")], info);
    expect(s).toMatchObject({ opened: 0, reopened: 1, errors: [] });
    expect(fake.issues()).toHaveLength(1);
    const [issue] = fake.issues();
    expect(issue!.open).toBe(true);
    expect(issue!.comments.at(-1)).toContain("rotated 91 days ago");
    expect(events.map((e) => e.type)).toEqual([
      "compliance.ticket_opened",
      "compliance.ticket_closed",
      "compliance.ticket_reopened",
    ]);
  });

  test("a ticket closed by hand while the item still fails is reopened on the next sync", async () => {
    const { sync, res } = await setup();
    const r = item(res("db"), "failing", "rotated 97 days ago");
    await sync.sync([r], info);
    fake.closeByHand(fake.issues()[0]!.key);
    expect(await sync.sync([r], info)).toMatchObject({ reopened: 1, commented: 0, errors: [] });
    const [issue] = fake.issues();
    expect(issue!.open).toBe(true);
    expect(issue!.comments.at(-1)).toMatch(/still fails/);
    expect(issue!.comments.at(-1)).toContain("rotated 97 days ago");
    // And stays quiet afterwards.
    expect(await sync.sync([r], info)).toEqual({
      opened: 0,
      commented: 0,
      closed: 0,
      reopened: 0,
      errors: [],
    });
  });

  test("an excepted item closes its ticket, naming the exception and its expiry", async () => {
    const { sync, res } = await setup();
    await sync.sync([item(res("db"), "failing", "rotated 97 days ago")], info);
    const ex = item(res("db"), "excepted", "rotated 97 days ago", undefined, { exceptionId: "exc-42" });
    const s = await sync.sync([ex], () => ({
      ...info(),
      exception: { id: "exc-42", expiresAt: new Date("2027-01-31T00:00:00Z") },
    }));
    expect(s).toMatchObject({ closed: 1, errors: [] });
    const [issue] = fake.issues();
    expect(issue!.open).toBe(false);
    expect(issue!.comments.at(-1)).toContain("exc-42");
    expect(issue!.comments.at(-1)).toContain("2027-01-31");
    // The exception ends and the item still fails: the same ticket reopens.
    expect(await sync.sync([item(res("db"), "overdue", "rotated 150 days ago")], info)).toMatchObject({
      reopened: 1,
    });
    expect(fake.issues()).toHaveLength(1);
  });

  test("a tracker outage is reported, records nothing, and the next sync does the work", async () => {
    const { sync, res } = await setup();
    const a = item(res("a"), "failing", "rotated 97 days ago");
    const b = item(res("b"), "failing", "rotated 120 days ago");
    fake.fail(1, 500);
    const s = await sync.sync([a, b], info);
    expect(s.opened).toBe(1);
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0]!.fingerprint).toBe(a.fingerprint);
    expect(s.errors[0]!.message).toContain(kind);
    expect(s.errors[0]!.message).toContain("create issue");
    expect(s.errors[0]!.message).toContain("HTTP 500");
    expect(await rows().where("fingerprint", "=", a.fingerprint).execute()).toEqual([]);
    expect(await sync.sync([a, b], info)).toMatchObject({ opened: 1, errors: [] });
    expect(fake.issues()).toHaveLength(2);

    // A failed close leaves the ticket open in our record too; the next passing run closes it.
    fake.fail(1, 503);
    const pass = item(res("a"), "passing", "rotated today");
    const failed = await sync.sync([pass], info);
    expect(failed.closed).toBe(0);
    expect(failed.errors[0]!.message).toContain("HTTP 503");
    expect((await rows().where("fingerprint", "=", a.fingerprint).executeTakeFirstOrThrow()).state).toBe(
      "open",
    );
    expect(await sync.sync([pass], info)).toMatchObject({ closed: 1, errors: [] });
  });

  test("a tracker that does not answer times out with a clear error", async () => {
    const { sync, res } = await setup({ timeoutMs: 300 });
    fake.hang(1);
    const s = await sync.sync([item(res("db"), "failing", "rotated 97 days ago")], info);
    expect(s.errors[0]!.message).toMatch(
      new RegExp(`^${kind}: create issue failed: no answer within 300 ms`),
    );
    expect(await sync.sync([item(res("db"), "failing", "rotated 97 days ago")], info)).toMatchObject({
      opened: 1,
    });
  });

  test("a wrong token gives a clear error that does not carry the token", async () => {
    fake = await startTracker(kind);
    const wrong = "wrong-token-s3cr3t-value";
    const config = ticketsConfigSchema.parse(configInput(fake, { token: wrong }));
    const tracker = createTracker(config);
    const sync = createTicketSync({ db: t.store.db, tracker, config });
    const r = item(`secret:${kind}/wrong-token`, "failing", "rotated 97 days ago");
    const s = await sync.sync([r], info);
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0]!.message).toMatch(new RegExp(`^${kind}: create issue failed: HTTP 401`));
    expect(s.errors[0]!.message).not.toContain(wrong);
    expect(s.errors[0]!.message).not.toContain(
      Buffer.from(`${fake.email ?? ""}:${wrong}`).toString("base64"),
    );
    const err = await tracker.get(kind === "jira" ? "SEC-1" : "1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrackerError);
    expect((err as TrackerError).httpStatus).toBe(401);
    expect(JSON.stringify(err) + String((err as Error).stack)).not.toContain(wrong);
    expect(fake.issues()).toEqual([]);
  });

  test("the tracker's own validation message comes through", async () => {
    const { tracker } = await setup();
    const err = await tracker
      .create({ fingerprint: "f", title: "", body: "b", labels: [] })
      .catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(TrackerError);
    expect((err as Error).message).toMatch(ownValidationWords[kind]);
  });
});

describe("Jira specifics", () => {
  let fake: FakeTracker | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  test("a Data Center personal access token is sent as a bearer token", async () => {
    fake = await startJira({ auth: "bearer" });
    const tracker: TicketTracker = createTracker(
      ticketsConfigSchema.parse({ provider: "jira", url: fake.url, project: "SEC", token: fake.token }),
    );
    const t = await tracker.create({
      fingerprint: "f",
      title: "A title",
      body: "body",
      labels: ["needs review"],
    });
    expect(t).toEqual({ key: "SEC-1", url: `${fake.url}/browse/SEC-1`, open: true });
    // Labels with spaces are not allowed in Jira; the client joins words with a hyphen.
    expect(fake.issues()[0]!.labels).toEqual(["compliance", "needs-review"]);
    await tracker.close("SEC-1", "fixed");
    expect(await tracker.get("SEC-1")).toMatchObject({ open: false });
    await tracker.reopen("SEC-1", "again");
    expect(fake.issues()[0]).toMatchObject({
      status: "To Do",
      changes: ["Done", "To Do"],
      comments: ["fixed", "again"],
    });
  });

  test("a workflow without a way to done fails clearly, naming the transitions it has", async () => {
    fake = await startJira();
    const tracker = createTracker(
      ticketsConfigSchema.parse({
        provider: "jira",
        url: fake.url,
        project: "SEC",
        email: fake.email,
        token: fake.token,
      }),
    );
    await tracker.create({ fingerprint: "f", title: "A title", body: "body", labels: [] });
    fake.limitTransitions(["Start Progress"]);
    const err = await tracker.close("SEC-1", "fixed").catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      'jira: close issue SEC-1: no transition leads to a done status; available: "Start Progress" → In Progress (indeterminate)',
    );
    expect(fake.issues()[0]!.open).toBe(true);
  });
});

describe("switching trackers", () => {
  test("a new provider opens its own ticket for an item the old one still tracks", async () => {
    const s = await openTestStore("postgres", ticketMigrations);
    const github = await startTracker("github");
    const gitlab = await startTracker("gitlab");
    try {
      const r = item("secret:switch/db", "failing", "rotated 97 days ago");
      for (const fake of [github, gitlab]) {
        const config = ticketsConfigSchema.parse(configInput(fake));
        const sync = createTicketSync({ db: s.store.db, tracker: createTracker(config), config });
        expect(await sync.sync([r], info)).toMatchObject({ opened: 1, errors: [] });
        expect(await sync.sync([r], info)).toMatchObject({ opened: 0, commented: 0, errors: [] });
      }
      expect(github.issues()).toHaveLength(1);
      expect(gitlab.issues()).toHaveLength(1);
      const rows = await s.store.db
        .withTables<TicketTables>()
        .selectFrom("compliance_tickets")
        .selectAll()
        .execute();
      expect(rows.map((x) => x.provider)).toEqual(["gitlab"]);
    } finally {
      await github.close();
      await gitlab.close();
      await s.cleanup();
    }
  });
});

describe("config", () => {
  test("defaults, and a discriminated union on provider", () => {
    const c = ticketsConfigSchema.parse({ provider: "github", repo: "acme/platform", token: "t" });
    expect(c).toEqual({
      provider: "github",
      apiUrl: "https://api.github.com",
      repo: "acme/platform",
      token: "t",
      labels: ["compliance"],
      closeAfterPasses: 1,
      on: ["at_risk", "failing", "overdue"],
      timeoutMs: 10_000,
    });
    expect(
      ticketsConfigSchema.parse({
        provider: "jira",
        url: "https://x.atlassian.net/",
        project: "SEC",
        token: "t",
        closeAfterPasses: "3",
      }),
    ).toMatchObject({ url: "https://x.atlassian.net", issueType: "Task", closeAfterPasses: 3 });
    expect(
      ticketsConfigSchema.safeParse({ provider: "gitlab", url: "https://gitlab.example.com", token: "t" })
        .success,
    ).toBe(false);
    expect(
      ticketsConfigSchema.safeParse({
        provider: "jira",
        url: "https://x",
        project: "SEC",
        token: "t",
        repo: "a/b",
      }).success,
    ).toBe(false);
    expect(
      ticketsConfigSchema.safeParse({
        provider: "github",
        repo: "acme/platform",
        token: "t",
        closeAfterPasses: 0,
      }).success,
    ).toBe(false);
    expect(ticketsConfigSchema.safeParse({ provider: "trello", token: "t" }).success).toBe(false);
  });

  test.each(backends)("the migration creates the table the sync uses on %s", async (backend) => {
    const s = await openTestStore(backend, ticketMigrations);
    try {
      const db = s.store.db as Kysely<object>;
      const sync = createTicketSync({
        db,
        tracker: { name: "none" } as TicketTracker,
        config: { closeAfterPasses: 1, on: ["failing"] },
      });
      // Passing items with no ticket never touch the tracker.
      expect(await sync.sync([item("secret:x", "passing", "ok")], info)).toEqual({
        opened: 0,
        commented: 0,
        closed: 0,
        reopened: 0,
        errors: [],
      });
    } finally {
      await s.cleanup();
    }
  });
});
