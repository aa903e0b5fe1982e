// RBAC posture: wildcards, secrets reads, exec into pods, privilege escalation verbs, creating
// pods, and bindings that hand out cluster-admin or system:masters.
import type { CheckContext, Resource } from "./checks/context.ts";
import { list, obj, str } from "./checks/context.ts";

const readVerbs = ["get", "list", "watch", "*"];
const execResources = ["pods/exec", "pods/attach", "pods/portforward"];

function ruleChecks(ctx: CheckContext, res: Resource): void {
  list(res.obj.rules).forEach((r, i) => {
    const rule = obj(r);
    const verbs = list(rule.verbs).map(String);
    const resources = list(rule.resources).map(String);
    const groups = list(rule.apiGroups).map(String);
    const path = ["rules", i];
    const wild = [
      ...(groups.includes("*") ? ["apiGroups"] : []),
      ...(resources.includes("*") ? ["resources"] : []),
      ...(verbs.includes("*") ? ["verbs"] : []),
    ];
    if (wild.length) {
      const all = verbs.includes("*") && resources.includes("*");
      ctx.hit({
        rule: "K8S-RBAC-WILDCARD",
        res,
        path: [...path, wild[wild.length - 1] ?? "verbs"],
        title: `RBAC rule uses '*' in ${wild.join(", ")}`,
        ...(all ? { severity: "critical" as const } : {}),
        details: { fields: wild.join(",") },
      });
    }
    const core = groups.length === 0 || groups.includes("") || groups.includes("*");
    const allows = (verbSet: string[]) => verbs.some((v) => verbSet.includes(v));
    if (core && resources.includes("secrets") && allows(readVerbs)) {
      const named = list(rule.resourceNames).length > 0;
      ctx.hit({
        rule: "K8S-RBAC-SECRETS",
        res,
        path: [...path, "resources"],
        ...(named ? { severity: "medium" as const, title: "RBAC rule allows reading named Secrets" } : {}),
      });
    }
    const exec = resources.filter((x) => execResources.includes(x));
    if (core && exec.length && allows(["create", "get", "*"])) {
      ctx.hit({
        rule: "K8S-RBAC-POD-EXEC",
        res,
        path: [...path, "resources"],
        details: { resources: exec.join(",") },
      });
    }
    const esc = verbs.filter((v) => v === "escalate" || v === "bind" || v === "impersonate");
    if (esc.length)
      ctx.hit({
        rule: "K8S-RBAC-ESCALATE",
        res,
        path: [...path, "verbs"],
        details: { verbs: esc.join(",") },
      });
    if (core && resources.includes("pods") && allows(["create", "*"])) {
      ctx.hit({ rule: "K8S-RBAC-CREATE-PODS", res, path: [...path, "verbs"] });
    }
  });
}

function bindingChecks(ctx: CheckContext, res: Resource): void {
  const ref = obj(res.obj.roleRef);
  if (str(ref.kind) === "ClusterRole" && str(ref.name) === "cluster-admin") {
    ctx.hit({
      rule: "K8S-RBAC-CLUSTER-ADMIN",
      res,
      path: ["roleRef", "name"],
      ...(res.kind === "ClusterRoleBinding" ? { severity: "critical" as const } : {}),
    });
  }
  list(res.obj.subjects).forEach((s, i) => {
    const sub = obj(s);
    if (str(sub.kind) === "Group" && str(sub.name) === "system:masters") {
      ctx.hit({ rule: "K8S-RBAC-SYSTEM-MASTERS", res, path: ["subjects", i, "name"] });
    }
  });
}

/** Runs the RBAC checks over Roles, ClusterRoles and their bindings. */
export function rbacChecks(ctx: CheckContext): void {
  for (const res of ctx.resources) {
    if (!res.apiVersion.startsWith("rbac.authorization.k8s.io/")) continue;
    if (res.kind === "Role" || res.kind === "ClusterRole") ruleChecks(ctx, res);
    else if (res.kind === "RoleBinding" || res.kind === "ClusterRoleBinding") bindingChecks(ctx, res);
  }
}
