// Pod and container posture with Rampart's own semantics: security context, capabilities, seccomp
// and AppArmor, resources, images, host namespaces, probes, service account tokens, secrets in env.
import type { CheckContext, ContainerRef, PodWorkload } from "./context.ts";
import { containersOf, getIn, imageRef, isObj, list, obj, quantitySet, str } from "./context.ts";

const dangerousCaps = new Set([
  "ALL",
  "SYS_ADMIN",
  "NET_ADMIN",
  "SYS_PTRACE",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_BOOT",
  "SYS_TIME",
  "DAC_READ_SEARCH",
  "DAC_OVERRIDE",
  "NET_RAW",
  "BPF",
  "PERFMON",
  "MAC_ADMIN",
  "MAC_OVERRIDE",
  "SETFCAP",
]);
const criticalCaps = new Set(["ALL", "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE"]);
const sensitiveHostPaths = [
  "/",
  "/etc",
  "/proc",
  "/sys",
  "/root",
  "/boot",
  "/dev",
  "/var/run",
  "/run",
  "/var/run/docker.sock",
  "/run/containerd",
  "/var/run/containerd",
  "/var/run/crio",
  "/var/lib/kubelet",
  "/var/lib/docker",
  "/etc/kubernetes",
];

/** Env names that say "this is a secret". */
const secretName =
  /(pass(word|wd|phrase)?|secret|token|api[_-]?key|apikey|private[_-]?key|credential|access[_-]?key|auth[_-]?key|signing[_-]?key|client[_-]?secret|dsn|conn(ection)?[_-]?str)/i;
/** Values that are secrets whatever their name. */
const secretValue =
  /(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.|[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@|gh[pousr]_[A-Za-z0-9]{36}|xox[abprs]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{16,}|glpat-[A-Za-z0-9_-]{20})/;

/** Whether a literal env value looks like a secret rather than a setting. */
export function secretLiteral(name: string, value: string): boolean {
  if (secretValue.test(value)) return true;
  if (!secretName.test(name)) return false;
  const v = value.trim();
  // Settings next to secrets: sizes, flags, TTLs, file paths (the right way: a mounted file), references.
  if (v.length < 4) return false;
  if (/^(true|false|yes|no|on|off|none|null|enabled?|disabled?)$/i.test(v)) return false;
  if (/^[0-9]+[smhd]?$/.test(v)) return false;
  if (
    v.startsWith("/") ||
    v.startsWith("file:") ||
    /^\$\{?[A-Z_][A-Z0-9_]*\}?$/i.test(v) ||
    v.startsWith("$(")
  )
    return false;
  if (/(_FILE|_PATH|_TTL|_LENGTH|_TIMEOUT|_EXPIRY|_URL_PATH|_HEADER|_NAME|_TYPE)$/i.test(name)) return false;
  return true;
}

const scOf = (c: ContainerRef) => obj(c.c.securityContext);
const podSc = (w: PodWorkload) => obj(w.spec.securityContext);

function seccompOk(t: unknown): boolean | undefined {
  if (t === "RuntimeDefault" || t === "Localhost") return true;
  if (t === "Unconfined") return false;
  return undefined;
}
function legacySeccomp(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  return v !== "unconfined";
}

/** Runs the container and pod checks for one workload. */
export function podChecks(ctx: CheckContext, w: PodWorkload): void {
  const { res } = w;
  const sp = w.specPath;
  const psc = podSc(w);
  const optional = new Set(ctx.options.optional ?? []);

  for (const k of ["hostNetwork", "hostPID", "hostIPC"] as const) {
    if (w.spec[k] === true) {
      const rule =
        k === "hostNetwork" ? "K8S-HOST-NETWORK" : k === "hostPID" ? "K8S-HOST-PID" : "K8S-HOST-IPC";
      ctx.hit({ rule, res, path: [...sp, k] });
    }
  }
  list(w.spec.volumes).forEach((v, i) => {
    const hp = getIn(v, ["hostPath", "path"]);
    if (!isObj(obj(v).hostPath)) return;
    const p = typeof hp === "string" ? hp.replace(/\/+$/, "") || "/" : "";
    const sensitive = sensitiveHostPaths.includes(p);
    ctx.hit({
      rule: "K8S-HOSTPATH",
      res,
      path: [...sp, "volumes", i, "hostPath"],
      ...(sensitive ? { severity: "critical" as const, title: `Pod mounts the host's ${p}` } : {}),
      details: { hostPath: p },
    });
  });

  // Service account token: off on the pod, or on its ServiceAccount among the scanned objects.
  if (w.spec.automountServiceAccountToken !== false) {
    const saName = str(w.spec.serviceAccountName) ?? str(w.spec.serviceAccount) ?? "default";
    const sa = ctx.serviceAccounts.get(`${w.namespace}/${saName}`);
    if (
      !(sa && sa.obj.automountServiceAccountToken === false) ||
      w.spec.automountServiceAccountToken === true
    ) {
      ctx.hit({ rule: "K8S-SA-TOKEN-AUTOMOUNT", res, path: [...sp, "automountServiceAccountToken"] });
    }
  }

  // Seccomp and AppArmor may be set for the whole pod; legacy annotations still count.
  const podSeccomp =
    seccompOk(getIn(psc, ["seccompProfile", "type"])) ??
    legacySeccomp(w.annotations["seccomp.security.alpha.kubernetes.io/pod"]) ??
    legacySeccomp(w.annotations["seccomp.security.alpha.kubernetes.io/defaultProfileName"]);

  const containers = containersOf(w);
  for (const c of containers) {
    const sc = scOf(c);
    const scPath = [...c.path, "securityContext"];
    const privileged = sc.privileged === true;
    if (privileged)
      ctx.hit({
        rule: "K8S-PRIVILEGED",
        res,
        path: [...scPath, "privileged"],
        details: { container: c.name },
      });
    if (sc.allowPrivilegeEscalation === true) {
      ctx.hit({
        rule: "K8S-PRIV-ESCALATION",
        res,
        path: [...scPath, "allowPrivilegeEscalation"],
        severity: "high",
        details: { container: c.name },
      });
    } else if (sc.allowPrivilegeEscalation !== false && !privileged) {
      ctx.hit({
        rule: "K8S-PRIV-ESCALATION",
        res,
        path: [...scPath, "allowPrivilegeEscalation"],
        details: { container: c.name },
      });
    }

    const uid = sc.runAsUser ?? psc.runAsUser;
    const uidPath =
      sc.runAsUser !== undefined ? [...scPath, "runAsUser"] : [...sp, "securityContext", "runAsUser"];
    const gid = sc.runAsGroup ?? psc.runAsGroup;
    const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
    if (uid === 0) ctx.hit({ rule: "K8S-RUN-AS-ROOT", res, path: uidPath, details: { container: c.name } });
    else if (nonRoot !== true && typeof uid !== "number") {
      ctx.hit({
        rule: "K8S-RUN-AS-NON-ROOT",
        res,
        path: [...scPath, "runAsNonRoot"],
        details: { container: c.name },
      });
    }
    if ((typeof uid === "number" && uid > 0 && uid < 10000) || (typeof gid === "number" && gid < 10000)) {
      ctx.hit({
        rule: "K8S-LOW-UID",
        res,
        path: uidPath,
        details: {
          container: c.name,
          uid: typeof uid === "number" ? uid : null,
          gid: typeof gid === "number" ? gid : null,
        },
      });
    }

    const caps = obj(sc.capabilities);
    const drop = list(caps.drop).map((x) => String(x).toUpperCase());
    if (!drop.includes("ALL") && !privileged) {
      ctx.hit({
        rule: "K8S-CAP-DROP-ALL",
        res,
        path: [...scPath, "capabilities", "drop"],
        details: { container: c.name },
      });
    }
    list(caps.add).forEach((a, j) => {
      const cap = String(a).toUpperCase().replace(/^CAP_/, "");
      if (dangerousCaps.has(cap)) {
        ctx.hit({
          rule: "K8S-CAP-DANGEROUS",
          res,
          path: [...scPath, "capabilities", "add", j],
          title: `Container adds the dangerous capability ${cap}`,
          ...(criticalCaps.has(cap) ? { severity: "critical" as const } : {}),
          details: { container: c.name, capability: cap },
        });
      } else if (cap !== "NET_BIND_SERVICE") {
        ctx.hit({
          rule: "K8S-CAP-ADDED",
          res,
          path: [...scPath, "capabilities", "add", j],
          details: { container: c.name, capability: cap },
        });
      }
    });

    if (sc.readOnlyRootFilesystem !== true) {
      ctx.hit({
        rule: "K8S-RO-ROOTFS",
        res,
        path: [...scPath, "readOnlyRootFilesystem"],
        details: { container: c.name },
      });
    }

    const seccomp =
      seccompOk(getIn(sc, ["seccompProfile", "type"])) ??
      legacySeccomp(w.annotations[`container.seccomp.security.alpha.kubernetes.io/${c.name}`]) ??
      podSeccomp;
    if (seccomp === false) {
      ctx.hit({
        rule: "K8S-SECCOMP",
        res,
        path: [...scPath, "seccompProfile", "type"],
        severity: "high",
        title: "Seccomp is explicitly Unconfined",
        details: { container: c.name },
      });
    } else if (seccomp === undefined) {
      ctx.hit({
        rule: "K8S-SECCOMP",
        res,
        path: [...scPath, "seccompProfile"],
        details: { container: c.name },
      });
    }
    const apparmor =
      str(getIn(sc, ["appArmorProfile", "type"])) ??
      str(getIn(psc, ["appArmorProfile", "type"])) ??
      w.annotations[`container.apparmor.security.beta.kubernetes.io/${c.name}`];
    if (apparmor !== undefined && apparmor.toLowerCase() === "unconfined") {
      ctx.hit({
        rule: "K8S-APPARMOR",
        res,
        path: [...scPath, "appArmorProfile"],
        details: { container: c.name },
      });
    }

    const resources = obj(c.c.resources);
    const limits = obj(resources.limits);
    const requests = obj(resources.requests);
    const missingLimits = ["cpu", "memory"].filter((k) => !quantitySet(limits[k]));
    const missingRequests = ["cpu", "memory"].filter((k) => !quantitySet(requests[k]));
    if (missingLimits.length) {
      ctx.hit({
        rule: "K8S-LIMITS-MISSING",
        res,
        path: [...c.path, "resources", "limits"],
        title: `Container has no ${missingLimits.join(" or ")} limit`,
        details: { container: c.name, missing: missingLimits.join(",") },
      });
    }
    if (missingRequests.length) {
      ctx.hit({
        rule: "K8S-REQUESTS-MISSING",
        res,
        path: [...c.path, "resources", "requests"],
        title: `Container has no ${missingRequests.join(" or ")} request`,
        details: { container: c.name, missing: missingRequests.join(",") },
      });
    }
    if (
      optional.has("ephemeral-storage") &&
      (!quantitySet(limits["ephemeral-storage"]) || !quantitySet(requests["ephemeral-storage"]))
    ) {
      ctx.hit({
        rule: "K8S-EPHEMERAL-STORAGE",
        res,
        path: [...c.path, "resources"],
        details: { container: c.name },
      });
    }
    if (optional.has("requests-equal-limits")) {
      for (const [k, rule] of [
        ["memory", "K8S-MEMORY-REQUESTS-EQUAL-LIMITS"],
        ["cpu", "K8S-CPU-REQUESTS-EQUAL-LIMITS"],
      ] as const) {
        if (
          quantitySet(limits[k]) &&
          (requests[k] === undefined ? false : String(requests[k]) !== String(limits[k]))
        ) {
          ctx.hit({
            rule,
            res,
            path: [...c.path, "resources", "requests", k],
            details: { container: c.name },
          });
        }
      }
    }

    const image = str(c.c.image) ?? "";
    const ref = imageRef(image);
    const mutable = !ref.digest && (ref.tag === "" || ref.tag === "latest");
    if (mutable) {
      ctx.hit({
        rule: "K8S-IMAGE-TAG",
        res,
        path: [...c.path, "image"],
        title: ref.tag ? "Image uses the :latest tag" : "Image has no tag",
        details: { container: c.name, image },
      });
    } else if (!ref.digest) {
      ctx.hit({
        rule: "K8S-IMAGE-DIGEST",
        res,
        path: [...c.path, "image"],
        details: { container: c.name, image },
      });
    }
    const pull = str(c.c.imagePullPolicy);
    if (pull === "Never" || (pull === "IfNotPresent" && mutable)) {
      ctx.hit({
        rule: "K8S-IMAGE-PULL-POLICY",
        res,
        path: [...c.path, "imagePullPolicy"],
        details: { container: c.name, imagePullPolicy: pull },
      });
    }

    list(c.c.ports).forEach((p, j) => {
      if (obj(p).hostPort !== undefined) {
        ctx.hit({
          rule: "K8S-HOST-PORT",
          res,
          path: [...c.path, "ports", j, "hostPort"],
          details: { container: c.name, hostPort: Number(obj(p).hostPort) },
        });
      }
    });

    if (!c.init && !w.runsToCompletion) {
      if (c.c.readinessProbe === undefined)
        ctx.hit({
          rule: "K8S-READINESS-PROBE",
          res,
          path: [...c.path, "readinessProbe"],
          details: { container: c.name },
        });
      if (c.c.livenessProbe === undefined)
        ctx.hit({
          rule: "K8S-LIVENESS-PROBE",
          res,
          path: [...c.path, "livenessProbe"],
          details: { container: c.name },
        });
    }

    list(c.c.env).forEach((e, j) => {
      const env = obj(e);
      const name = str(env.name) ?? "";
      if (typeof env.value === "string" && secretLiteral(name, env.value)) {
        ctx.hit({
          rule: "K8S-SECRET-IN-ENV",
          res,
          path: [...c.path, "env", j, "value"],
          title: `Environment variable ${name} holds a secret-like literal value`,
          details: { container: c.name, env: name },
        });
      } else if (isObj(getIn(env, ["valueFrom", "secretKeyRef"]))) {
        ctx.hit({
          rule: "K8S-SECRET-ENV-REF",
          res,
          path: [...c.path, "env", j, "valueFrom", "secretKeyRef"],
          details: { container: c.name, env: name },
        });
      }
    });
    list(c.c.envFrom).forEach((e, j) => {
      if (isObj(obj(e).secretRef)) {
        ctx.hit({
          rule: "K8S-SECRET-ENV-REF",
          res,
          path: [...c.path, "envFrom", j, "secretRef"],
          details: { container: c.name },
        });
      }
    });
  }
}
