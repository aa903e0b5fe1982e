// Least-privilege analysis (issue 9): the shared types and report writer; platforms in aws/, gcp/, k8s/.
export * from "./types.ts";
export {
  fileSafeName,
  formatJson,
  formatMarkdown,
  formatReport,
  formatTable,
  IAM_FORMATS,
  riskRemoved,
  services,
  writeProposalFiles,
  type IamFormat,
  type ProposalFile,
} from "./report.ts";
