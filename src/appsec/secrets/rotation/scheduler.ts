// Runs the rotation schedules of the `secrets:` config: rotates what is due, stores the new
// credential as a new secret version, and retires the previous one when its grace period ends.
// Pending retirements live in the store, so they survive a restart.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Clock } from "../../../platform/clock.ts";
import { Forbidden, NotFound, RampartError, Unavailable } from "../../../platform/errors.ts";
import { newEvent, type SecurityEvent } from "../../../platform/events/index.ts";
import type { Store } from "../../../platform/store/index.ts";
import type { RotationSchedule, RotationTarget, SecretsConfig } from "../schema.ts";
import { rotationCaller } from "../index.ts";
import type { SecretsCaller } from "../types.ts";
import { scrubbed } from "./credentials.ts";
import { mysqlRotator } from "./mysql.ts";
import { postgresRotator } from "./postgres.ts";
import { randomTokenRotator } from "./random.ts";
import { redisRotator } from "./redis.ts";
import type { RotationTables } from "./tables.ts";
import type { CredentialData, RotationSecrets, Rotator } from "./types.ts";

export interface RotationSchedulerOptions {
  secrets: RotationSecrets;
  /** Who the scheduler's reads and writes act as; default the store's `rotationCaller` (allowed everything). */
  rotationCaller?: SecretsCaller;
  config: () => SecretsConfig;
  store: Store;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  logger: Logger;
  /** How often `start()` runs `runDue`; default one minute. */
  intervalMs?: number;
  /** Whether this server runs scheduled jobs now (one server of a deployment leads them). */
  leading?: () => boolean;
  /** After a failed rotation, wait this long before the next try; default 15 minutes. */
  retryMinutes?: number;
  /** Builds the rotator of a target (tests swap it); default: the built-in rotators. */
  rotatorFor?: (target: RotationTarget) => Rotator;
}

export interface RotationOutcome {
  path: string;
  ok: boolean;
  /** The new version (rotations) or the retired one (retirements). */
  version?: number;
  error?: string;
}

export interface RotationReport {
  rotated: RotationOutcome[];
  retired: RotationOutcome[];
}

export interface RotationScheduler {
  /** Rotates every schedule that is due and retires every previous credential whose grace period is over. */
  runDue(): Promise<RotationReport>;
  /**
   * Rotates `path` now for `caller` (needs `rotate` on it); throws Unavailable when the rotation
   * fails. `retirePrevious` skips the grace period: the credential it replaced stops working at
   * once (a leaked credential must not live on for its consumers' sake).
   */
  rotateNow(
    caller: SecretsCaller,
    path: string,
    opts?: { retirePrevious?: boolean },
  ): Promise<RotationOutcome>;
  start(): void;
  close(): Promise<void>;
}

/** The built-in rotator for a target. */
export function rotatorFor(target: RotationTarget): Rotator {
  switch (target.kind) {
    case "postgres":
      return postgresRotator(target);
    case "mysql":
      return mysqlRotator(target);
    case "redis":
      return redisRotator(target);
    case "random":
      return randomTokenRotator(target);
  }
}

const MINUTE = 60_000;
// Longer than any rotation takes (each connection times out after 5 s).
const LEASE_MS = 5 * MINUTE;

// A credential's values that must not appear in messages (a username, host or port may).
function secretValues(data: CredentialData | undefined): string[] {
  return Object.entries(data ?? {})
    .filter(([k]) => !["username", "host", "port"].includes(k))
    .map(([, v]) => v);
}

// The admin URL and its password, to scrub from error messages that may echo either.
function adminSecrets(target: RotationTarget): string[] {
  if (!("adminUrl" in target)) return [];
  const password = URL.parse(target.adminUrl)?.password;
  return password ? [target.adminUrl, decodeURIComponent(password)] : [target.adminUrl];
}
const DAY = 24 * 60 * MINUTE;

/** Creates the scheduler; call `start()` to run it on a timer. */
export function createRotationScheduler(opts: RotationSchedulerOptions): RotationScheduler {
  const { secrets, clock, logger } = opts;
  const system = opts.rotationCaller ?? rotationCaller;
  const db = opts.store.db.withTables<RotationTables>();
  const build = opts.rotatorFor ?? rotatorFor;
  const retryMs = (opts.retryMinutes ?? 15) * MINUTE;
  // Single flight: a second request for a path in rotation shares the first one's result.
  const inFlight = new Map<string, Promise<RotationOutcome>>();
  // Rotation and retirement of one path never interleave (a retirement must see the newest user).
  const chains = new Map<string, Promise<unknown>>();
  const holder = randomUUID();
  let sweep: Promise<RotationReport> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const scheduleOf = (path: string) => opts.config().rotation.find((s) => s.path === path);

  function emit(
    type: string,
    caller: SecretsCaller,
    path: string,
    data: Record<string, unknown>,
    failed: boolean,
  ): void {
    opts.emit(
      newEvent(
        {
          type,
          actor: caller.actor,
          target: { kind: "secret", id: path },
          data,
          severity: failed ? "high" : "info",
          outcome: failed ? "failure" : "success",
        },
        clock.now(),
      ),
    );
  }

  async function current(path: string): Promise<{ version: number; data?: CredentialData }> {
    try {
      const v = await secrets.get(system, path);
      return { version: v.version, data: v.data };
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
      // No readable version: a new path, or every version deleted (the write must follow the newest).
      const meta = await secrets.metadata(system, path).catch((e: unknown) => {
        if (e instanceof NotFound) return undefined;
        throw e;
      });
      return { version: meta?.currentVersion ?? 0 };
    }
  }

  // The store records the outcome on the secret and emits secrets.rotated / secrets.rotation_failed;
  // when it cannot (a new path that was never written), the event is emitted here instead.
  async function record(
    path: string,
    result: { ok: boolean; version?: number; error?: string },
    data: Record<string, unknown>,
  ): Promise<void> {
    try {
      await secrets.recordRotation(path, result);
    } catch (err) {
      logger.warn({ path, err: (err as Error).message }, "could not record the rotation on the secret");
      const { ok, ...rest } = result;
      emit(ok ? "secrets.rotated" : "secrets.rotation_failed", system, path, { ...data, ...rest }, !ok);
    }
  }

  async function rotate(schedule: RotationSchedule): Promise<RotationOutcome> {
    const { path, target } = schedule;
    let next: CredentialData | undefined;
    let prior: CredentialData | undefined;
    let rotator: Rotator | undefined;
    let stored = false;
    try {
      rotator = build(target);
      const now = await current(path);
      prior = now.data;
      next = await rotator.rotate(now.data);
      const info = await secrets.put(system, path, next, { cas: now.version });
      stored = true;
      if (now.data) {
        await db
          .insertInto("secret_rotation_retirements")
          .values({
            path,
            version: now.version,
            kind: target.kind,
            retire_at: new Date(clock.now().getTime() + schedule.graceMinutes * MINUTE),
            created_at: clock.now(),
            attempts: 0,
            last_error: null,
          })
          .onConflict((oc) => oc.columns(["path", "version"]).doNothing())
          .execute();
      }
      await tagMetadata(schedule);
      await record(path, { ok: true, version: info.version }, { rotator: target.kind });
      logger.info({ path, rotator: target.kind, version: info.version }, "secret rotated");
      return { path, ok: true, version: info.version };
    } catch (err) {
      const error = scrubbed(err, [...secretValues(next), ...secretValues(prior), ...adminSecrets(target)]);
      // The new credential is held by nobody: take it back, so the old one stays the only one.
      if (next && rotator && !stored) await rotator.discard(next).catch(() => {});
      await record(path, { ok: false, error }, { rotator: target.kind, phase: "rotate" });
      logger.warn({ path, rotator: target.kind, err: error }, "secret rotation failed");
      return { path, ok: false, error };
    }
  }

  // Records on the secret which rotator renews it and how often (best effort: the rotation stands).
  async function tagMetadata(schedule: RotationSchedule): Promise<void> {
    try {
      const meta = await secrets.metadata(system, schedule.path);
      if (meta.rotator !== schedule.target.kind || meta.rotationPeriodDays !== schedule.everyDays) {
        await secrets.setMetadata(system, schedule.path, {
          rotator: schedule.target.kind,
          rotationPeriodDays: schedule.everyDays,
        });
      }
    } catch (err) {
      logger.warn({ path: schedule.path, err: (err as Error).message }, "could not tag the rotated secret");
    }
  }

  function exclusive<T>(path: string, fn: () => Promise<T>): Promise<T> {
    const run = (chains.get(path) ?? Promise.resolve()).then(fn, fn);
    const tail = run.then(
      () => {},
      () => {},
    );
    chains.set(path, tail);
    void tail.then(() => {
      if (chains.get(path) === tail) chains.delete(path);
    });
    return run;
  }

  // Across servers: a lease row per path, taken only when free or lapsed (a crashed holder).
  async function withLease<T>(path: string, fn: () => Promise<T>): Promise<T | undefined> {
    const now = clock.now();
    const until = new Date(now.getTime() + LEASE_MS);
    const taken = await db
      .insertInto("secret_rotation_leases")
      .values({ path, holder, until })
      .onConflict((oc) =>
        oc.column("path").doUpdateSet({ holder, until }).where("secret_rotation_leases.until", "<", now),
      )
      .executeTakeFirst();
    if (Number(taken.numInsertedOrUpdatedRows ?? 0) === 0) return undefined;
    try {
      return await fn();
    } finally {
      await db
        .deleteFrom("secret_rotation_leases")
        .where("path", "=", path)
        .where("holder", "=", holder)
        .execute()
        .catch(() => {});
    }
  }

  function rotateOnce(schedule: RotationSchedule): Promise<RotationOutcome> {
    const running = inFlight.get(schedule.path);
    if (running) return running;
    const { path } = schedule;
    const p = exclusive(path, () => withLease(path, () => rotate(schedule)))
      .then(
        (r): RotationOutcome =>
          r ?? { path, ok: false, error: "another server is rotating this secret right now" },
      )
      .finally(() => inFlight.delete(schedule.path));
    inFlight.set(schedule.path, p);
    return p;
  }

  async function isDue(schedule: RotationSchedule): Promise<boolean> {
    const meta = await secrets.metadata(system, schedule.path).catch((e: unknown) => {
      if (e instanceof NotFound) return undefined;
      throw e;
    });
    const last = meta?.lastRotation;
    if (!last) return true;
    const wait = last.ok ? schedule.everyDays * DAY : retryMs;
    return new Date(last.at).getTime() + wait <= clock.now().getTime();
  }

  async function retireDue(): Promise<RotationOutcome[]> {
    const due = await db
      .selectFrom("secret_rotation_retirements")
      .selectAll()
      .where("retire_at", "<=", clock.now())
      .orderBy("retire_at")
      .execute();
    const out: RotationOutcome[] = [];
    for (const row of due) {
      const r = await exclusive(row.path, () => withLease(row.path, () => retire(row)));
      if (r) out.push(r);
    }
    return out;
  }

  async function retire(row: RotationTables["secret_rotation_retirements"]): Promise<RotationOutcome> {
    const { path, version } = row;
    const schedule = scheduleOf(path);
    const done = () =>
      db
        .deleteFrom("secret_rotation_retirements")
        .where("path", "=", path)
        .where("version", "=", version)
        .execute();
    if (!schedule || schedule.target.kind !== row.kind) {
      // The schedule is gone or changed kind: nothing left that knows how to retire it.
      logger.warn({ path, version }, "dropping a retirement whose rotation schedule is gone");
      await done();
      return { path, ok: false, version, error: "the rotation schedule is gone" };
    }
    let previous: CredentialData | undefined;
    let latest: CredentialData | undefined;
    try {
      previous = (await secrets.get(system, path, { version })).data;
      latest = (await current(path)).data;
      await build(schedule.target).retire(previous, latest);
      await done();
      emit("secrets.rotation_retired", system, path, { rotator: row.kind, version }, false);
      return { path, ok: true, version };
    } catch (err) {
      const target = schedule.target;
      const error = scrubbed(err, [
        ...secretValues(previous),
        ...secretValues(latest),
        ...adminSecrets(target),
      ]);
      await db
        .updateTable("secret_rotation_retirements")
        .set({ attempts: row.attempts + 1, last_error: error })
        .where("path", "=", path)
        .where("version", "=", version)
        .execute();
      // The previous credential keeps working past its grace period: someone must know.
      emit(
        "secrets.rotation_failed",
        system,
        path,
        { rotator: row.kind, phase: "retire", version, error },
        true,
      );
      logger.warn({ path, version, err: error }, "retiring a rotated credential failed");
      return { path, ok: false, version, error };
    }
  }

  async function runSweep(): Promise<RotationReport> {
    const rotated: RotationOutcome[] = [];
    for (const schedule of opts.config().rotation) {
      let due: boolean;
      try {
        due = await isDue(schedule);
      } catch (err) {
        rotated.push({ path: schedule.path, ok: false, error: (err as Error).message });
        continue;
      }
      if (!due) continue;
      // The lease itself needs the store: when that fails, report it and go on with the next path.
      rotated.push(
        await rotateOnce(schedule).catch((err: unknown) => ({
          path: schedule.path,
          ok: false,
          error: scrubbed(err, adminSecrets(schedule.target)),
        })),
      );
    }
    return { rotated, retired: await retireDue() };
  }

  function runDue(): Promise<RotationReport> {
    // One sweep at a time: the timer and a caller share a sweep in progress.
    sweep ??= runSweep().finally(() => {
      sweep = undefined;
    });
    return sweep;
  }

  return {
    runDue,

    async rotateNow(caller, path, opts) {
      if (!secrets.can(caller, "rotate", path)) throw new Forbidden(`no rotate capability on ${path}`);
      const schedule = scheduleOf(path);
      if (!schedule) throw new NotFound(`no rotation schedule for ${path} in secrets.rotation`);
      // Who asked: the store's own events name the rotation identity that does the work.
      emit("secrets.rotation_requested", caller, path, { rotator: schedule.target.kind }, false);
      const outcome = await rotateOnce(schedule);
      if (!outcome.ok) throw new Unavailable(`rotation of ${path} failed: ${outcome.error}`);
      if (opts?.retirePrevious) {
        const pending = await db
          .selectFrom("secret_rotation_retirements")
          .selectAll()
          .where("path", "=", path)
          .execute();
        for (const row of pending) {
          const r = await exclusive(path, () => withLease(path, () => retire(row)));
          if (!r?.ok)
            throw new Unavailable(
              `${path} was rotated, but its previous credential (version ${row.version}) could not be retired: ${r?.error ?? "another server holds the rotation lease"}`,
            );
        }
      }
      return outcome;
    },

    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (!(opts.leading?.() ?? true)) return;
        runDue().catch((err: unknown) => {
          logger.error(
            { err: err instanceof RampartError ? err.message : String(err) },
            "rotation sweep failed",
          );
        });
      }, opts.intervalMs ?? MINUTE);
      timer.unref();
    },

    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await sweep?.catch(() => {});
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}
