// Risk flags for a set of AWS actions. The categories follow Salesforce Cloudsplaining (privilege
// escalation, data exfiltration, credentials exposure, resource exposure); the privilege
// escalation list follows the methods Rhino Security Labs documented ("AWS IAM Privilege
// Escalation – Methods and Mitigation"). The lists are ours, written from those write-ups and the
// Service Authorization Reference: an action is flagged on its own, combinations are not modelled.
import type { RiskFlags } from "../types.ts";
import type { ActionCatalogue } from "./catalogue.ts";

/** Actions that let a principal grant itself (or a role it controls) more than it has. */
export const PRIVESC_ACTIONS: readonly string[] = [
  // rewrite or attach policies
  "iam:CreatePolicyVersion",
  "iam:SetDefaultPolicyVersion",
  "iam:AttachUserPolicy",
  "iam:AttachGroupPolicy",
  "iam:AttachRolePolicy",
  "iam:PutUserPolicy",
  "iam:PutGroupPolicy",
  "iam:PutRolePolicy",
  "iam:AddUserToGroup",
  // become someone else
  "iam:CreateAccessKey",
  "iam:CreateLoginProfile",
  "iam:UpdateLoginProfile",
  "iam:UpdateAssumeRolePolicy",
  // lift the ceiling
  "iam:DeleteUserPermissionsBoundary",
  "iam:DeleteRolePermissionsBoundary",
  "iam:PutUserPermissionsBoundary",
  "iam:PutRolePermissionsBoundary",
  // hand a role to compute you control (PassRole plus a service that runs your code)
  "iam:PassRole",
  "lambda:UpdateFunctionCode",
  "lambda:UpdateFunctionConfiguration",
  "glue:UpdateDevEndpoint",
  "ssm:SendCommand",
  "ssm:StartSession",
  "ec2-instance-connect:SendSSHPublicKey",
  "codestar:CreateProjectFromTemplate",
  "cloudformation:UpdateStack",
  "sts:AssumeRole",
];

/** Actions that hand out credentials, tokens or keys. */
export const CREDENTIALS_EXPOSURE_ACTIONS: readonly string[] = [
  "iam:CreateAccessKey",
  "iam:UpdateAccessKey",
  "iam:CreateLoginProfile",
  "iam:CreateServiceSpecificCredential",
  "iam:ResetServiceSpecificCredential",
  "iam:UploadSSHPublicKey",
  "sts:GetSessionToken",
  "sts:GetFederationToken",
  "ecr:GetAuthorizationToken",
  "ecr-public:GetAuthorizationToken",
  "codeartifact:GetAuthorizationToken",
  "ec2:GetPasswordData",
  "redshift:GetClusterCredentials",
  "redshift:GetClusterCredentialsWithIAM",
  "sso:GetRoleCredentials",
  "cognito-identity:GetCredentialsForIdentity",
  "cognito-identity:GetOpenIdToken",
  "cognito-identity:GetOpenIdTokenForDeveloperIdentity",
  "lightsail:GetKeyPair",
  "lightsail:GetKeyPairs",
  "lightsail:DownloadDefaultKeyPair",
  "lightsail:GetInstanceAccessDetails",
  "lightsail:GetBucketAccessKeys",
  "gamelift:GetInstanceAccess",
  "gamelift:RequestUploadCredentials",
  "appsync:ListApiKeys",
  "storagegateway:DescribeChapCredentials",
  "connect:GetFederationToken",
  "secretsmanager:GetSecretValue",
  "s3:GetDataAccess",
];

/** Actions that read data held in a service (not just its configuration). */
export const DATA_ACCESS_ACTIONS: readonly string[] = [
  "s3:GetObject",
  "s3:GetObjectVersion",
  "s3-object-lambda:GetObject",
  "dynamodb:GetItem",
  "dynamodb:BatchGetItem",
  "dynamodb:Query",
  "dynamodb:Scan",
  "dynamodb:GetRecords",
  "dax:GetItem",
  "dax:BatchGetItem",
  "dax:Query",
  "dax:Scan",
  "rds-data:ExecuteStatement",
  "rds:DownloadDBLogFilePortion",
  "rds:DownloadCompleteDBLogFile",
  "athena:GetQueryResults",
  "athena:GetQueryResultsStream",
  "logs:GetLogEvents",
  "logs:FilterLogEvents",
  "logs:GetQueryResults",
  "logs:Unmask",
  "cloudtrail:LookupEvents",
  "kinesis:GetRecords",
  "sqs:ReceiveMessage",
  "ssm:GetParameter",
  "ssm:GetParameters",
  "ssm:GetParametersByPath",
  "ssm:GetParameterHistory",
  "secretsmanager:GetSecretValue",
  "kms:Decrypt",
  "ecr:GetDownloadUrlForLayer",
  "ecr:BatchGetImage",
  "lambda:GetFunction",
  "codecommit:GitPull",
  "codecommit:GetBlob",
  "codecommit:GetFile",
  "es:ESHttpGet",
  "cognito-idp:ListUsers",
  "cognito-idp:AdminGetUser",
  "glacier:GetJobOutput",
  "cloudtrail:GetQueryResults",
  "cloudformation:GetTemplate",
  "ssm:GetDocument",
  "lambda:GetLayerVersion",
  "logs:GetLogRecord",
  "codecommit:GetCommit",
  "codecommit:GetDifferences",
  "cassandra:Select",
  "kinesisvideo:GetMedia",
  "mediastore:GetObject",
  "sdb:Select",
  "qldb:GetBlock",
  "support:DescribeAttachment",
  "support:DescribeCommunications",
  "workdocs:GetDocument",
  "healthlake:ReadResource",
  "backup:GetRecoveryPointRestoreMetadata",
];

/** Resource exposure: policy-writing actions on resources, beyond the catalogue's "Permissions management" level. */
export const RESOURCE_EXPOSURE_ACTIONS: readonly string[] = [
  "s3:PutBucketPolicy",
  "s3:PutBucketAcl",
  "s3:PutObjectAcl",
  "s3:DeletePublicAccessBlock",
  "kms:PutKeyPolicy",
  "kms:CreateGrant",
  "lambda:AddPermission",
  "sqs:AddPermission",
  "sns:AddPermission",
  "ecr:SetRepositoryPolicy",
  "secretsmanager:PutResourcePolicy",
  "ec2:ModifySnapshotAttribute",
  "ec2:ModifyImageAttribute",
  "rds:ModifyDBSnapshotAttribute",
];

const lower = (l: readonly string[]) => new Set(l.map((a) => a.toLowerCase()));
const PRIVESC = lower(PRIVESC_ACTIONS);
const CREDENTIALS = lower(CREDENTIALS_EXPOSURE_ACTIONS);
const DATA = lower(DATA_ACCESS_ACTIONS);
const EXPOSURE = lower(RESOURCE_EXPOSURE_ACTIONS);

/** The risky actions in `actions`, by category, each list sorted. */
export async function riskFlags(actions: Iterable<string>, catalogue: ActionCatalogue): Promise<RiskFlags> {
  const flags: RiskFlags = { privesc: [], dataAccess: [], credentialsExposure: [], resourceExposure: [] };
  for (const a of actions) {
    const k = a.toLowerCase();
    if (PRIVESC.has(k)) flags.privesc.push(a);
    if (DATA.has(k)) flags.dataAccess.push(a);
    if (CREDENTIALS.has(k)) flags.credentialsExposure.push(a);
    // Cloudsplaining's rule: whatever writes a resource policy or ACL exposes the resource.
    if (EXPOSURE.has(k) || (await catalogue.accessLevel(a)).includes("Permissions management"))
      flags.resourceExposure.push(a);
  }
  for (const l of Object.values(flags) as string[][]) l.sort();
  return flags;
}
