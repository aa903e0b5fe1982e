// The files an AWS proposal is written as: one policy document per proposed managed policy
// (ready for `aws iam create-policy --policy-document file://…`), and the originals to roll back to.
import { fileSafeName, type ProposalFile } from "../report.ts";
import type { PrincipalAnalysis } from "../types.ts";
import type { AwsProposal } from "./analyze.ts";
import type { NamedPolicy } from "./policy.ts";

/** Proposal and rollback files for one principal's analysis. */
export function awsProposalFiles(a: PrincipalAnalysis): ProposalFile[] {
  const dir = fileSafeName(a.principal);
  const proposed = a.proposed as AwsProposal;
  const original = a.original as { policies: NamedPolicy[]; boundary?: { name: string; arn?: string } };
  const json = (v: unknown) => JSON.stringify(v, null, 2);
  const files: ProposalFile[] = proposed.policies.map((p) => ({
    principal: a.principal,
    kind: "proposed",
    path: `${dir}/proposed/${fileSafeName(p.name)}.json`,
    content: json(p.document),
  }));
  const seen = new Map<string, number>();
  for (const p of original.policies) {
    const base = fileSafeName(`${p.group ? `group-${p.group}-` : ""}${p.kind}-${p.name}`);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    files.push({
      principal: a.principal,
      kind: "rollback",
      path: `${dir}/rollback/${n === 1 ? base : `${base}-${n}`}.json`,
      content: json(p.document),
    });
  }
  // What to re-attach: the list of original policies, so rollback is one read.
  files.push({
    principal: a.principal,
    kind: "rollback",
    path: `${dir}/rollback/manifest.json`,
    content: json({
      principal: a.principal,
      policies: original.policies.map((p) => ({
        name: p.name,
        kind: p.kind,
        ...(p.arn ? { arn: p.arn } : {}),
        ...(p.group ? { group: p.group } : {}),
      })),
      ...(original.boundary ? { boundary: original.boundary } : {}),
      proposed: proposed.policies.map((p) => p.name),
    }),
  });
  return files;
}
