// Least-privilege analysis on a schedule in the control plane: each run reads the configured
// platforms' policies and logs (streamed, as the analysers do), writes proposals and rollbacks
// under <outDir>/<platform>/<timestamp>/ (never applied), and records findings as events, so the
// audit log holds the evidence and detection rules can act on over-privileged principals.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import type { Clock } from "../../platform/clock.ts";
import { Invalid } from "../../platform/errors.ts";
import { newEvent, type EventRef, type SecurityEvent, type Severity } from "../../platform/events/index.ts";
import type { Logger } from "../../platform/logging.ts";
import { analyzeAws, awsProposalFiles, createActionCatalogue, loadPolicies } from "./aws/index.ts";
import { analyzeGcpFiles, gcpBindingDiff, gcpMarkdown, logFilesOf } from "./gcp/index.ts";
import {
  addObservation,
  analyzeK8s,
  emptyUsage,
  eventToRequest,
  isEmptyRbac,
  loadRbac,
  manifestsYaml,
  toPrincipalAnalysis,
} from "./k8s/index.ts";
import {
  fileSafeName,
  formatJson,
  formatMarkdown,
  riskRemoved,
  writeProposalFiles,
  type ProposalFile,
} from "./report.ts";
import type { IamAwsConfig, IamConfig, IamGcpConfig, IamK8sConfig } from "./schema.ts";
import type { IamAnalysisReport, IamPlatform, PrincipalAnalysis, RiskFlags } from "./types.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** A principal is over-privileged when the proposal removes at least this share of its permissions. */
export const OVERPRIVILEGED_REDUCTION_PERCENT = 50;
const ACTOR: EventRef = { kind: "system", id: "iam" };

export interface IamScheduleOptions {
  config: () => IamConfig;
  /** Relative paths in the config resolve here (the config file's directory). */
  configDir: string;
  /** The default output directory is <dataDir>/iam/proposals. */
  dataDir: string;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  logger: Logger;
  /** Delay from `start()` to the first run; default one minute (the server settles first). */
  startDelayMs?: number;
  /** How often `start()` checks whether a run is due; default one minute. */
  tickMs?: number;
  /** Whether this server runs scheduled jobs now (one server of a deployment leads them). */
  leading?: () => boolean;
}

/** What one platform's analysis found (or why it failed). */
export type IamPlatformSummary =
  | {
      platform: IamPlatform;
      ok: true;
      /** The run's directory: <outDir>/<platform>/<timestamp>. */
      dir: string;
      files: number;
      principals: number;
      /** Unused permissions (AWS actions, GCP permissions, Kubernetes rules) over all principals. */
      unusedPermissions: number;
      /** Effective permissions the proposals no longer grant: Σ(before − after). */
      removedPermissions: number;
      /** 1 − Σafter / Σbefore over all principals, as a percentage with one decimal. */
      reductionPercent: number;
      /** Observed calls the proposals would deny: a bug when not 0. */
      replayDenied: number;
      /** Risky permissions the proposals no longer grant, by category. */
      riskRemoved: Record<keyof RiskFlags, number>;
      overprivileged: number;
    }
  | { platform: IamPlatform; ok: false; error: string };

/** One run over every configured platform. */
export interface IamRunSummary {
  startedAt: string;
  finishedAt: string;
  window: { from: string; to: string };
  platforms: IamPlatformSummary[];
}

export interface IamSchedule {
  /** Runs the analysis now; while a run is under way, returns that run instead of starting another. */
  runNow(): Promise<IamRunSummary>;
  /** Starts the timer: a first run after a short delay, then every `everyHours` (0 = off, re-read each tick). */
  start(): void;
  /** Stops the timer and waits for a run under way (platforms not yet started are skipped). */
  close(): Promise<void>;
}

interface PlatformResult {
  report: IamAnalysisReport;
  files: ProposalFile[];
}

/** A principal as an event target: people by kind `user` (the audit log pseudonymises them). */
export function principalTarget(platform: IamPlatform, principal: string): EventRef {
  let person: string | undefined;
  if (platform === "aws") person = /^arn:[^:]+:iam::\d*:user\//.test(principal) ? principal : undefined;
  else if (platform === "gcp") person = principal.startsWith("user:") ? principal.slice(5) : undefined;
  // Kubernetes: service accounts, nodes and control-plane components are `system:…`; the rest are people.
  else person = principal.startsWith("system:") ? undefined : principal;
  const id = person ?? principal;
  // Event ids are at most 512 characters; a longer name is kept stable as a digest.
  const bounded = id.length <= 512 ? id : `sha256:${createHash("sha256").update(id).digest("hex")}`;
  return { kind: person !== undefined ? "user" : "principal", id: bounded };
}

/** Risky permissions held and no longer proposed, without where they came from (which may name people). */
function unusedRisk(a: PrincipalAnalysis): RiskFlags {
  if (a.platform !== "k8s") return riskRemoved(a);
  // Kubernetes findings end with their source, "(RoleBinding ns/x → Role y)", which the proposal changes.
  const bare = (s: string) => s.replace(/ \([^()]*\)$/, "");
  const out: RiskFlags = { privesc: [], dataAccess: [], credentialsExposure: [], resourceExposure: [] };
  for (const key of Object.keys(out) as (keyof RiskFlags)[]) {
    const after = new Set(a.risk.after[key].map(bare));
    out[key] = [...new Set(a.risk.before[key].map(bare))].filter((p) => !after.has(p)).sort();
  }
  return out;
}

// Error messages may quote the input they choked on (JSON.parse does): keep them short and unquoted.
function safeMessage(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/"[^"]{16,}"/g, '"…"').slice(0, 300);
}

/** A directory name for a run's time: 2026-11-23T09-13-44.123Z. */
const stamp = (d: Date) => d.toISOString().replace(/:/g, "-");

/** Creates <base>/<name>, or <name>-2, -3 … when a run in the same millisecond already has it. */
async function freshDir(base: string, name: string): Promise<string> {
  await mkdir(base, { recursive: true });
  for (let n = 1; ; n++) {
    const dir = join(base, n === 1 ? name : `${name}-${n}`);
    try {
      await mkdir(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || n >= 100) throw err;
    }
  }
}

async function analyseAws(c: IamAwsConfig, at: (p: string) => string, since: Date, until: Date) {
  const policies = await loadPolicies(c.policies.map(at));
  const report = await analyzeAws({
    policies,
    logs: c.logs.map(at),
    since,
    until,
    catalogue: createActionCatalogue(),
  });
  return { report, files: report.principals.flatMap(awsProposalFiles) };
}

async function analyseGcp(
  c: IamGcpConfig,
  at: (p: string) => string,
  since: Date,
  until: Date,
): Promise<PlatformResult> {
  const a = await analyzeGcpFiles({
    policy: at(c.policy),
    logs: c.logs.map(at),
    customRoles: c.customRoles.map(at),
    ...(c.catalogue ? { catalogue: at(c.catalogue) } : {}),
    ...(c.customRoleParent ? { customRoleParent: c.customRoleParent } : {}),
    from: since.toISOString(),
    to: until.toISOString(),
  });
  const json = (v: unknown) => JSON.stringify(v, null, 2);
  // GCP proposes one whole policy (set-iam-policy replaces it whole), so the files are per run.
  const files: ProposalFile[] = [
    { principal: "*", kind: "proposed", path: "proposed-policy.json", content: json(a.proposedPolicy) },
    { principal: "*", kind: "rollback", path: "rollback-policy.json", content: json(a.rollbackPolicy) },
    { principal: "*", kind: "proposed", path: "bindings.diff", content: gcpBindingDiff(a) },
    ...a.customRoles.map((role): ProposalFile => {
      const { name, ...definition } = role;
      return {
        principal: "*",
        kind: "proposed",
        path: `custom-roles/${fileSafeName(name.slice(name.lastIndexOf("/") + 1))}.json`,
        content: json(definition),
      };
    }),
    { principal: "*", kind: "proposed", path: "report.gcp.md", content: gcpMarkdown(a) },
  ];
  return { report: a.report, files };
}

/** Reads audit logs into usage, keeping only events in [since, until): streamed, .gz through zlib. */
async function readK8sWindow(paths: readonly string[], since: Date, until: Date) {
  const usage = emptyUsage();
  const events = { read: 0, inWindow: 0, skipped: {} as Record<string, number> };
  const skip = (why: string) => (events.skipped[why] = (events.skipped[why] ?? 0) + 1);
  const from = since.getTime();
  const to = until.getTime();
  for (const p of paths)
    for (const file of await logFilesOf(p)) {
      const raw = createReadStream(file);
      const input = file.endsWith(".gz") ? raw.pipe(createGunzip()) : raw;
      // readline does not forward stream errors: fail the read with the file's name instead.
      const failed = new Promise<never>((_, reject) => {
        const fail = (err: Error) => reject(new Invalid(err.message, file));
        raw.on("error", fail);
        input.on("error", fail);
      });
      failed.catch(() => undefined);
      const read = async () => {
        for await (const line of createInterface({ input, crlfDelay: Infinity })) {
          const text = line.trim();
          if (!text) continue;
          events.read++;
          let e: Parameters<typeof eventToRequest>[0];
          try {
            e = JSON.parse(text) as typeof e;
          } catch {
            skip("not JSON");
            continue;
          }
          if (!e || typeof e !== "object" || (e.kind !== undefined && e.kind !== "Event")) {
            skip("not an audit event");
            continue;
          }
          const r = eventToRequest(e);
          if (!r) {
            skip("no authorization decision");
            continue;
          }
          const t = Date.parse(r.time);
          if (Number.isNaN(t)) {
            skip("no timestamp");
            continue;
          }
          if (t < from || t >= to) {
            skip("outside the window");
            continue;
          }
          events.inWindow++;
          addObservation(usage, r.request, r.code, new Date(t).toISOString());
        }
      };
      try {
        await Promise.race([read(), failed]);
      } finally {
        raw.destroy();
      }
    }
  return { usage, events };
}

async function analyseK8s(
  c: IamK8sConfig,
  at: (p: string) => string,
  since: Date,
  until: Date,
): Promise<PlatformResult> {
  const rbac = await loadRbac(c.rbac.map(at));
  const { usage, events } = await readK8sWindow(c.audit.map(at), since, until);
  // A scheduled proposal never grants what the subject did not already hold (M ⊆ P).
  const all = analyzeK8s(usage, rbac, { withinCurrent: true });
  // Subjects the given RBAC grants nothing (control-plane components, anonymous) have nothing to shrink.
  const held = all.filter((a) => a.current.length > 0);
  const files: ProposalFile[] = [];
  for (const a of held) {
    const dir = fileSafeName(a.principal);
    files.push({
      principal: a.principal,
      kind: "proposed",
      path: `${dir}/proposed.yaml`,
      content: manifestsYaml(a.proposed),
    });
    if (!isEmptyRbac(a.rollback))
      files.push({
        principal: a.principal,
        kind: "rollback",
        path: `${dir}/rollback.yaml`,
        content: manifestsYaml(a.rollback),
      });
  }
  const times = held
    .flatMap((a) => [a.window.from, a.window.to])
    .filter(Boolean)
    .sort();
  const report: IamAnalysisReport = {
    platform: "k8s",
    window: { from: since.toISOString(), to: until.toISOString() },
    events,
    principals: held.map(toPrincipalAnalysis),
    notes: [
      ...(all.length > held.length
        ? [
            `${all.length - held.length} subject(s) in the audit log hold no grant in the given RBAC: not analysed`,
          ]
        : []),
      ...(times.length ? [`activity from ${times[0]} to ${times.at(-1)}`] : []),
    ],
  };
  return { report, files };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Creates the scheduled least-privilege analysis; see `IamSchedule`. */
export function createIamSchedule(o: IamScheduleOptions): IamSchedule {
  const { clock, emit, logger } = o;
  const startDelayMs = o.startDelayMs ?? 60_000;
  const tickMs = o.tickMs ?? 60_000;
  let running: Promise<IamRunSummary> | undefined;
  let lastRunAt: number | undefined;
  let closed = false;
  let first: NodeJS.Timeout | undefined;
  let timer: NodeJS.Timeout | undefined;

  const event = (type: string, severity: Severity, data: Record<string, unknown>, target?: EventRef) =>
    emit(
      newEvent(
        {
          type,
          severity,
          outcome: type === "iam.analysis_failed" ? "failure" : "success",
          actor: ACTOR,
          // Findings are compliance evidence: kept with the audit class, not the security one.
          retention: "audit",
          ...(target ? { target } : {}),
          data,
        },
        clock.now(),
      ),
    );

  async function analysePlatform(
    platform: IamPlatform,
    cfg: IamConfig,
    at: (p: string) => string,
    since: Date,
    until: Date,
    outDir: string,
  ): Promise<IamPlatformSummary> {
    let result: PlatformResult;
    if (platform === "aws") result = await analyseAws(cfg.aws as IamAwsConfig, at, since, until);
    else if (platform === "gcp") result = await analyseGcp(cfg.gcp as IamGcpConfig, at, since, until);
    else result = await analyseK8s(cfg.k8s as IamK8sConfig, at, since, until);
    const { report } = result;
    const dir = await freshDir(join(outDir, platform), stamp(until));
    const written = await writeProposalFiles(dir, [
      ...result.files,
      { principal: "*", kind: "proposed", path: "report.md", content: formatMarkdown(report) },
      { principal: "*", kind: "proposed", path: "report.json", content: formatJson(report) },
    ]);

    const removedTotal: Record<keyof RiskFlags, number> = {
      privesc: 0,
      dataAccess: 0,
      credentialsExposure: 0,
      resourceExposure: 0,
    };
    let before = 0;
    let after = 0;
    let unused = 0;
    let replayDenied = 0;
    let overprivileged = 0;
    for (const a of report.principals) {
      before += a.effective.before;
      after += a.effective.after;
      unused += a.unused.length;
      const denied = a.verification.proposed.denied.length;
      replayDenied += denied;
      const risk = unusedRisk(a);
      for (const k of Object.keys(removedTotal) as (keyof RiskFlags)[]) removedTotal[k] += risk[k].length;
      const risky = risk.privesc.length > 0 || risk.credentialsExposure.length > 0;
      if (a.reductionPercent < OVERPRIVILEGED_REDUCTION_PERCENT && !risky) continue;
      overprivileged++;
      // No names or paths in data: the principal (a person, maybe) is only in the target.
      event(
        "iam.overprivileged",
        risk.privesc.length > 0 ? "high" : "medium",
        {
          platform,
          reductionPercent: a.reductionPercent,
          effective: a.effective,
          used: a.used.length,
          unused: a.unused.length,
          unusedRisk: {
            privesc: risk.privesc.slice(0, 50),
            credentialsExposure: risk.credentialsExposure.slice(0, 50),
            dataAccess: risk.dataAccess.length,
            resourceExposure: risk.resourceExposure.length,
          },
          replayDenied: denied,
          window: report.window,
          dir,
        },
        principalTarget(platform, a.principal),
      );
    }
    const summary: IamPlatformSummary = {
      platform,
      ok: true,
      dir,
      files: written.length,
      principals: report.principals.length,
      unusedPermissions: unused,
      removedPermissions: before - after,
      reductionPercent: before === 0 ? 0 : round1((1 - after / before) * 100),
      replayDenied,
      riskRemoved: removedTotal,
      overprivileged,
    };
    if (replayDenied > 0)
      logger.error(
        { platform, replayDenied, dir },
        "least-privilege proposal would deny observed calls: do not apply it",
      );
    const { ok: _ok, platform: _p, ...data } = summary;
    event("iam.analysis_completed", replayDenied > 0 ? "high" : "info", {
      platform,
      ...data,
      window: report.window,
      events: { read: report.events.read, inWindow: report.events.inWindow },
    });
    return summary;
  }

  async function run(): Promise<IamRunSummary> {
    const cfg = o.config();
    const now = clock.now();
    const until = new Date(now.getTime());
    const since = new Date(now.getTime() - cfg.windowDays * DAY_MS);
    const at = (p: string) => resolve(o.configDir, p);
    const outDir = cfg.outDir ? at(cfg.outDir) : join(o.dataDir, "iam", "proposals");
    const platforms: IamPlatformSummary[] = [];
    for (const platform of ["aws", "gcp", "k8s"] as const) {
      if (!cfg[platform]) continue;
      if (closed) break;
      try {
        platforms.push(await analysePlatform(platform, cfg, at, since, until, outDir));
      } catch (err) {
        const error = safeMessage(err);
        logger.warn(
          { platform, err: error },
          "least-privilege analysis failed; the other platforms still run",
        );
        event("iam.analysis_failed", "medium", { platform, error });
        platforms.push({ platform, ok: false, error });
      }
    }
    return {
      startedAt: now.toISOString(),
      finishedAt: clock.now().toISOString(),
      window: { from: since.toISOString(), to: until.toISOString() },
      platforms,
    };
  }

  function runNow(): Promise<IamRunSummary> {
    if (running) return running;
    lastRunAt = clock.now().getTime();
    running = run().finally(() => {
      running = undefined;
    });
    return running;
  }

  function tick(): void {
    const every = o.config().everyHours;
    if (closed || running || every === 0 || !(o.leading?.() ?? true)) return;
    if (lastRunAt !== undefined && clock.now().getTime() - lastRunAt < every * HOUR_MS) return;
    runNow().catch((err: unknown) =>
      logger.error({ err: safeMessage(err) }, "scheduled least-privilege analysis did not run"),
    );
  }

  return {
    runNow,
    start() {
      if (closed || first || timer) return;
      first = setTimeout(() => {
        first = undefined;
        tick();
        if (closed) return;
        timer = setInterval(tick, tickMs);
        timer.unref();
      }, startDelayMs);
      first.unref();
    },
    async close() {
      closed = true;
      if (first) clearTimeout(first);
      if (timer) clearInterval(timer);
      first = timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}
