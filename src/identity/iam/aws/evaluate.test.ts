// The identity-policy evaluator against the IAM User Guide's rules, element by element and
// operator by operator, and a property: for random unconditioned policies it agrees with set
// semantics over the catalogue's expanded actions and hand-listed resource matches.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createActionCatalogue } from "./catalogue.ts";
import { evaluatePolicies, type ContextValue, type EvaluationResult } from "./evaluate.ts";
import type { PolicyStatement } from "./policy.ts";
import { decide } from "./verify.ts";

const ACCOUNT = "111122223333";
type Decision = EvaluationResult["decision"];

const evaluate = (
  stmts: PolicyStatement[],
  action: string,
  resource = "*",
  context: Record<string, ContextValue> = {},
  version = "2012-10-17",
): Decision =>
  evaluatePolicies([{ name: "p", document: { Version: version, Statement: stmts } }], {
    action,
    resource,
    context,
  }).decision;

const allow = (extra: Partial<PolicyStatement> = {}): PolicyStatement => ({
  Effect: "Allow",
  Action: "s3:GetObject",
  Resource: "*",
  ...extra,
});
const deny = (extra: Partial<PolicyStatement> = {}): PolicyStatement => ({
  Effect: "Deny",
  Action: "s3:GetObject",
  Resource: "*",
  ...extra,
});
const OBJ = "arn:aws:s3:::alpha/logs/a.txt";

describe("evaluation logic", () => {
  it("explicit Deny beats any Allow, in any policy and order", () => {
    expect(evaluate([allow(), deny()], "s3:GetObject", OBJ)).toBe("ExplicitlyDenied");
    expect(evaluate([deny(), allow()], "s3:GetObject", OBJ)).toBe("ExplicitlyDenied");
    const r = evaluatePolicies(
      [
        { name: "a", document: { Version: "2012-10-17", Statement: allow() } },
        { name: "d", document: { Version: "2012-10-17", Statement: [allow(), deny({ Sid: "NoGet" })] } },
      ],
      { action: "s3:GetObject", resource: OBJ },
    );
    expect(r).toEqual({ decision: "ExplicitlyDenied", statement: { policy: "d", index: 1, sid: "NoGet" } });
  });

  it("nothing matching is an implicit deny; an empty policy set denies", () => {
    expect(evaluate([allow()], "s3:PutObject", OBJ)).toBe("ImplicitlyDenied");
    expect(evaluatePolicies([], { action: "s3:GetObject" }).decision).toBe("ImplicitlyDenied");
  });

  it.each<[string, PolicyStatement, string, string, Decision]>([
    ["Action exact, case-insensitive", allow({ Action: "S3:getobject" }), "s3:GetObject", OBJ, "Allowed"],
    ["Action prefix wildcard", allow({ Action: "s3:Get*" }), "s3:GetObjectAcl", OBJ, "Allowed"],
    ["Action ? is one character", allow({ Action: "s3:GetObjec?" }), "s3:GetObject", OBJ, "Allowed"],
    ["Action ? is not two", allow({ Action: "s3:GetObje?" }), "s3:GetObject", OBJ, "ImplicitlyDenied"],
    ["Action * alone", allow({ Action: "*" }), "iam:CreateUser", OBJ, "Allowed"],
    ["Action other service", allow({ Action: "s3:*" }), "iam:CreateUser", OBJ, "ImplicitlyDenied"],
    [
      "NotAction excludes",
      allow({ Action: undefined, NotAction: "s3:*" }),
      "s3:GetObject",
      OBJ,
      "ImplicitlyDenied",
    ],
    [
      "NotAction grants the rest",
      allow({ Action: undefined, NotAction: "s3:*" }),
      "iam:GetRole",
      "*",
      "Allowed",
    ],
    ["Resource exact", allow({ Resource: OBJ }), "s3:GetObject", OBJ, "Allowed"],
    [
      "Resource is case-sensitive",
      allow({ Resource: "arn:aws:s3:::Alpha/*" }),
      "s3:GetObject",
      OBJ,
      "ImplicitlyDenied",
    ],
    ["Resource * spans slashes", allow({ Resource: "arn:aws:s3:::alpha/*" }), "s3:GetObject", OBJ, "Allowed"],
    ["Resource ? in a name", allow({ Resource: "arn:aws:s3:::al?ha/*" }), "s3:GetObject", OBJ, "Allowed"],
    [
      "Resource bucket is not its objects",
      allow({ Resource: "arn:aws:s3:::alpha" }),
      "s3:GetObject",
      OBJ,
      "ImplicitlyDenied",
    ],
    [
      "Resource region wildcard",
      allow({ Action: "ec2:StartInstances", Resource: `arn:aws:ec2:*:${ACCOUNT}:instance/i-1` }),
      "ec2:StartInstances",
      `arn:aws:ec2:eu-west-1:${ACCOUNT}:instance/i-1`,
      "Allowed",
    ],
    [
      "Resource ? stays inside its segment",
      allow({ Action: "ec2:StartInstances", Resource: `arn:aws:ec2:us-east-?:${ACCOUNT}:instance/*` }),
      "ec2:StartInstances",
      `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-1`,
      "Allowed",
    ],
    [
      "Resource * inside a segment does not cross a colon",
      allow({ Action: "ec2:StartInstances", Resource: `arn:aws:ec2:us*1:instance/i-1` }),
      "ec2:StartInstances",
      `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-1`,
      "ImplicitlyDenied",
    ],
    [
      "no resource named: only Resource * matches",
      allow({ Resource: "arn:aws:s3:::*" }),
      "s3:GetObject",
      "*",
      "ImplicitlyDenied",
    ],
    [
      "NotResource excludes",
      allow({ Resource: undefined, NotResource: "arn:aws:s3:::alpha/*" }),
      "s3:GetObject",
      OBJ,
      "ImplicitlyDenied",
    ],
    [
      "NotResource grants the rest",
      allow({ Resource: undefined, NotResource: "arn:aws:s3:::beta/*" }),
      "s3:GetObject",
      OBJ,
      "Allowed",
    ],
  ])("%s", (_name, s, action, resource, expected) => {
    expect(evaluate([s], action, resource)).toBe(expected);
  });

  it("a Deny with NotResource takes away everything but the listed resources", () => {
    const stmts = [
      allow({ Action: "s3:*" }),
      deny({
        Action: "s3:*",
        Resource: undefined,
        NotResource: ["arn:aws:s3:::alpha", "arn:aws:s3:::alpha/*"],
      }),
    ];
    expect(evaluate(stmts, "s3:GetObject", OBJ)).toBe("Allowed");
    expect(evaluate(stmts, "s3:GetObject", "arn:aws:s3:::beta/x")).toBe("ExplicitlyDenied");
  });
});

describe("conditions", () => {
  type Case = [string, Record<string, Record<string, unknown>>, Record<string, ContextValue>, boolean];
  const cases: Case[] = [
    [
      "StringEquals",
      { StringEquals: { "aws:RequestedRegion": "eu-west-1" } },
      { "aws:RequestedRegion": "eu-west-1" },
      true,
    ],
    [
      "StringEquals is case-sensitive",
      { StringEquals: { "aws:RequestedRegion": "EU-west-1" } },
      { "aws:RequestedRegion": "eu-west-1" },
      false,
    ],
    [
      "key names are case-insensitive",
      { StringEquals: { "AWS:requestedregion": "eu-west-1" } },
      { "aws:RequestedRegion": "eu-west-1" },
      true,
    ],
    [
      "values are OR-ed",
      { StringEquals: { "aws:RequestedRegion": ["us-east-1", "eu-west-1"] } },
      { "aws:RequestedRegion": "eu-west-1" },
      true,
    ],
    [
      "keys are AND-ed",
      { StringEquals: { "aws:RequestedRegion": "eu-west-1", "aws:PrincipalAccount": "9" } },
      { "aws:RequestedRegion": "eu-west-1", "aws:PrincipalAccount": ACCOUNT },
      false,
    ],
    [
      "operators are AND-ed",
      {
        StringEquals: { "aws:RequestedRegion": "eu-west-1" },
        Bool: { "aws:MultiFactorAuthPresent": "true" },
      },
      { "aws:RequestedRegion": "eu-west-1", "aws:MultiFactorAuthPresent": "false" },
      false,
    ],
    ["absent key does not match", { StringEquals: { "aws:RequestedRegion": "eu-west-1" } }, {}, false],
    [
      "StringNotEquals NORs its values",
      { StringNotEquals: { "aws:RequestedRegion": ["us-east-1", "eu-west-1"] } },
      { "aws:RequestedRegion": "eu-west-1" },
      false,
    ],
    [
      "StringNotEquals on an absent key holds",
      { StringNotEquals: { "aws:RequestedRegion": "eu-west-1" } },
      {},
      true,
    ],
    [
      "StringEqualsIgnoreCase",
      { StringEqualsIgnoreCase: { "aws:RequestedRegion": "EU-WEST-1" } },
      { "aws:RequestedRegion": "eu-west-1" },
      true,
    ],
    [
      "StringNotEqualsIgnoreCase",
      { StringNotEqualsIgnoreCase: { "aws:RequestedRegion": "EU-WEST-1" } },
      { "aws:RequestedRegion": "eu-west-1" },
      false,
    ],
    ["StringLike *", { StringLike: { "s3:prefix": "home/*" } }, { "s3:prefix": "home/bob/x" }, true],
    ["StringLike ?", { StringLike: { "s3:prefix": "home/?" } }, { "s3:prefix": "home/ab" }, false],
    [
      "StringLike is case-sensitive",
      { StringLike: { "s3:prefix": "Home/*" } },
      { "s3:prefix": "home/x" },
      false,
    ],
    ["StringNotLike", { StringNotLike: { "s3:prefix": "home/*" } }, { "s3:prefix": "tmp/x" }, true],
    [
      "ArnLike per segment",
      { ArnLike: { "aws:PrincipalArn": `arn:aws:iam::*:role/ci-*` } },
      { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:role/ci-deployer` },
      true,
    ],
    [
      "ArnEquals",
      { ArnEquals: { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:role/ci` } },
      { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:role/ci` },
      true,
    ],
    [
      "ArnNotLike",
      { ArnNotLike: { "aws:PrincipalArn": `arn:aws:iam::*:role/ci-*` } },
      { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:user/bob` },
      true,
    ],
    [
      "ArnLike on a value that is no ARN",
      { ArnLike: { "aws:PrincipalArn": "arn:aws:iam::*:*" } },
      { "aws:PrincipalArn": "bob" },
      false,
    ],
    ["NumericLessThan", { NumericLessThan: { "s3:max-keys": "10" } }, { "s3:max-keys": "9" }, true],
    [
      "NumericLessThanEquals",
      { NumericLessThanEquals: { "s3:max-keys": 10 } },
      { "s3:max-keys": "10" },
      true,
    ],
    ["NumericGreaterThan", { NumericGreaterThan: { "s3:max-keys": "10" } }, { "s3:max-keys": "10" }, false],
    [
      "NumericGreaterThanEquals",
      { NumericGreaterThanEquals: { "s3:max-keys": "10" } },
      { "s3:max-keys": "10.0" },
      true,
    ],
    ["NumericEquals", { NumericEquals: { "s3:max-keys": "10" } }, { "s3:max-keys": "10" }, true],
    ["NumericNotEquals", { NumericNotEquals: { "s3:max-keys": "10" } }, { "s3:max-keys": "10" }, false],
    [
      "DateLessThan ISO",
      { DateLessThan: { "aws:CurrentTime": "2026-01-01T00:00:00Z" } },
      { "aws:CurrentTime": "2025-12-31T23:59:59Z" },
      true,
    ],
    [
      "DateGreaterThan epoch",
      { DateGreaterThan: { "aws:EpochTime": "1700000000" } },
      { "aws:EpochTime": "1700000001" },
      true,
    ],
    [
      "DateGreaterThanEquals mixes ISO and epoch",
      { DateGreaterThanEquals: { "aws:CurrentTime": "1767225600" } },
      { "aws:CurrentTime": "2026-01-01T00:00:00Z" },
      true,
    ],
    [
      "DateLessThanEquals",
      { DateLessThanEquals: { "aws:CurrentTime": "2026-01-01T00:00:00Z" } },
      { "aws:CurrentTime": "2026-01-01T00:00:01Z" },
      false,
    ],
    [
      "DateEquals",
      { DateEquals: { "aws:CurrentTime": "2026-01-01T00:00:00Z" } },
      { "aws:CurrentTime": "2026-01-01T00:00:00.000Z" },
      true,
    ],
    [
      "DateNotEquals",
      { DateNotEquals: { "aws:CurrentTime": "2026-01-01T00:00:00Z" } },
      { "aws:CurrentTime": "2026-01-02T00:00:00Z" },
      true,
    ],
    ["Bool", { Bool: { "aws:SecureTransport": true } }, { "aws:SecureTransport": "true" }, true],
    [
      "Bool false",
      { Bool: { "aws:MultiFactorAuthPresent": "true" } },
      { "aws:MultiFactorAuthPresent": "false" },
      false,
    ],
    [
      "IpAddress CIDR",
      { IpAddress: { "aws:SourceIp": "203.0.113.0/24" } },
      { "aws:SourceIp": "203.0.113.77" },
      true,
    ],
    [
      "IpAddress outside",
      { IpAddress: { "aws:SourceIp": "203.0.113.0/24" } },
      { "aws:SourceIp": "203.0.114.1" },
      false,
    ],
    [
      "IpAddress single address",
      { IpAddress: { "aws:SourceIp": "203.0.113.7" } },
      { "aws:SourceIp": "203.0.113.7" },
      true,
    ],
    [
      "IpAddress IPv6",
      { IpAddress: { "aws:SourceIp": "2001:db8::/32" } },
      { "aws:SourceIp": "2001:db8:1::5" },
      true,
    ],
    [
      "IpAddress v4 range, v6 caller",
      { IpAddress: { "aws:SourceIp": "203.0.113.0/24" } },
      { "aws:SourceIp": "2001:db8::1" },
      false,
    ],
    [
      "NotIpAddress",
      { NotIpAddress: { "aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"] } },
      { "aws:SourceIp": "203.0.113.7" },
      true,
    ],
    [
      "NotIpAddress inside",
      { NotIpAddress: { "aws:SourceIp": "10.0.0.0/8" } },
      { "aws:SourceIp": "10.1.2.3" },
      false,
    ],
    ["Null true: key absent", { Null: { "aws:TokenIssueTime": "true" } }, {}, true],
    [
      "Null true: key present",
      { Null: { "aws:TokenIssueTime": "true" } },
      { "aws:TokenIssueTime": "x" },
      false,
    ],
    [
      "Null false: key present",
      { Null: { "aws:TokenIssueTime": "false" } },
      { "aws:TokenIssueTime": "x" },
      true,
    ],
    ["IfExists, key absent", { StringEqualsIfExists: { "ec2:InstanceType": "t3.micro" } }, {}, true],
    [
      "IfExists, key present and different",
      { StringEqualsIfExists: { "ec2:InstanceType": "t3.micro" } },
      { "ec2:InstanceType": "m5.large" },
      false,
    ],
    [
      "IfExists, key present and equal",
      { StringEqualsIfExists: { "ec2:InstanceType": "t3.micro" } },
      { "ec2:InstanceType": "t3.micro" },
      true,
    ],
    [
      "ForAnyValue: one matches",
      { "ForAnyValue:StringEquals": { "aws:TagKeys": ["env", "team"] } },
      { "aws:TagKeys": ["cost", "env"] },
      true,
    ],
    ["ForAnyValue: key absent", { "ForAnyValue:StringEquals": { "aws:TagKeys": ["env"] } }, {}, false],
    [
      "ForAnyValue: empty set",
      { "ForAnyValue:StringEquals": { "aws:TagKeys": ["env"] } },
      { "aws:TagKeys": [] },
      false,
    ],
    [
      "ForAllValues: all in the list",
      { "ForAllValues:StringEquals": { "aws:TagKeys": ["env", "team"] } },
      { "aws:TagKeys": ["team", "env"] },
      true,
    ],
    [
      "ForAllValues: one outside",
      { "ForAllValues:StringEquals": { "aws:TagKeys": ["env", "team"] } },
      { "aws:TagKeys": ["env", "cost"] },
      false,
    ],
    [
      "ForAllValues: empty set holds",
      { "ForAllValues:StringEquals": { "aws:TagKeys": ["env"] } },
      { "aws:TagKeys": [] },
      true,
    ],
    ["ForAllValues: absent key holds", { "ForAllValues:StringEquals": { "aws:TagKeys": ["env"] } }, {}, true],
    [
      "ForAllValues:StringNotEquals: none listed",
      { "ForAllValues:StringNotEquals": { "aws:TagKeys": ["secret"] } },
      { "aws:TagKeys": ["env", "team"] },
      true,
    ],
    [
      "ForAnyValue:StringNotEquals: one not listed",
      { "ForAnyValue:StringNotEquals": { "aws:TagKeys": ["env"] } },
      { "aws:TagKeys": ["env", "x"] },
      true,
    ],
    [
      "ForAllValues:StringLike",
      { "ForAllValues:StringLike": { "aws:TagKeys": ["team-*"] } },
      { "aws:TagKeys": ["team-a", "team-b"] },
      true,
    ],
    [
      "policy variable resolved",
      { StringLike: { "s3:prefix": "home/${aws:username}/*" } },
      { "s3:prefix": "home/bob/x", "aws:username": "bob" },
      true,
    ],
    [
      "policy variable for someone else",
      { StringLike: { "s3:prefix": "home/${aws:username}/*" } },
      { "s3:prefix": "home/alice/x", "aws:username": "bob" },
      false,
    ],
    [
      "policy variable with a default",
      { StringEquals: { "s3:prefix": "${aws:username, 'nobody'}" } },
      { "s3:prefix": "nobody" },
      true,
    ],
    [
      "a variable's value is literal, not a wildcard",
      { StringLike: { "s3:prefix": "${aws:username}" } },
      { "s3:prefix": "bob", "aws:username": "*" },
      false,
    ],
    ["${*} is a literal star", { StringEquals: { "s3:prefix": "a${*}" } }, { "s3:prefix": "a*" }, true],
  ];
  it.each(cases)("%s", (_name, Condition, context, holds) => {
    expect(evaluate([allow({ Condition })], "s3:GetObject", OBJ, context)).toBe(
      holds ? "Allowed" : "ImplicitlyDenied",
    );
    // The same condition on a Deny takes the Allow away exactly when it holds.
    expect(evaluate([allow(), deny({ Condition })], "s3:GetObject", OBJ, context)).toBe(
      holds ? "ExplicitlyDenied" : "Allowed",
    );
  });

  it("fails safe: an unknown operator, an unresolved variable or an unparseable value never allows, always denies", () => {
    const unsure: Case[] = [
      ["unknown operator", { BinaryEquals: { "aws:x": "QUJD" } }, { "aws:x": "QUJD" }, false],
      [
        "misspelt operator",
        { StringEqual: { "aws:RequestedRegion": "eu-west-1" } },
        { "aws:RequestedRegion": "eu-west-1" },
        false,
      ],
      [
        "unresolved variable, negated operator",
        { StringNotEquals: { "s3:prefix": "${aws:username}" } },
        { "s3:prefix": "x" },
        false,
      ],
      ["number that is not", { NumericLessThan: { "s3:max-keys": "ten" } }, { "s3:max-keys": "9" }, false],
      [
        "address that is not",
        { NotIpAddress: { "aws:SourceIp": "10.0.0.0/8" } },
        { "aws:SourceIp": "not-an-ip" },
        false,
      ],
      ["Null under a set operator", { "ForAnyValue:Null": { "aws:TagKeys": "true" } }, {}, false],
    ];
    for (const [name, Condition, context] of unsure) {
      expect(evaluate([allow({ Condition })], "s3:GetObject", OBJ, context), name).toBe("ImplicitlyDenied");
      expect(evaluate([allow(), deny({ Condition })], "s3:GetObject", OBJ, context), name).toBe(
        "ExplicitlyDenied",
      );
    }
    // A Resource with a variable the context lacks: Allow does not match, Deny does.
    const home = "arn:aws:s3:::home/${aws:username}/*";
    expect(evaluate([allow({ Resource: home })], "s3:GetObject", "arn:aws:s3:::home/bob/x")).toBe(
      "ImplicitlyDenied",
    );
    expect(evaluate([allow(), deny({ Resource: home })], "s3:GetObject", "arn:aws:s3:::home/bob/x")).toBe(
      "ExplicitlyDenied",
    );
    expect(
      evaluate([allow({ Resource: home })], "s3:GetObject", "arn:aws:s3:::home/bob/x", {
        "aws:username": "bob",
      }),
    ).toBe("Allowed");
  });

  it("before policy language 2012-10-17, ${…} is literal text", () => {
    const s = allow({ Resource: "arn:aws:s3:::home/${aws:username}" });
    const ctx = { "aws:username": "bob" };
    expect(evaluate([s], "s3:GetObject", "arn:aws:s3:::home/bob", ctx, "2008-10-17")).toBe(
      "ImplicitlyDenied",
    );
    expect(evaluate([s], "s3:GetObject", "arn:aws:s3:::home/${aws:username}", ctx, "2008-10-17")).toBe(
      "Allowed",
    );
  });
});

describe("replay (verify.ts)", () => {
  const principal = `arn:aws:iam::${ACCOUNT}:user/team/bob`;
  const call = (resource: string, context = {}) => ({
    action: "s3:GetObject",
    resource,
    account: ACCOUNT,
    context,
  });
  const doc = (...Statement: PolicyStatement[]) => ({ Version: "2012-10-17", Statement });

  it("fills aws:username, region and source address from the call", async () => {
    const p = {
      principal,
      identity: [
        {
          name: "home",
          document: doc(
            allow({
              Resource: "arn:aws:s3:::home/${aws:username}/*",
              Condition: {
                StringEquals: { "aws:RequestedRegion": "eu-west-1" },
                IpAddress: { "aws:SourceIp": "10.0.0.0/8" },
              },
            }),
          ),
        },
      ],
    };
    const ctx = { region: "eu-west-1", sourceIp: "10.2.3.4" };
    expect(await decide(p, call("arn:aws:s3:::home/bob/a", ctx))).toEqual({ allowed: true });
    expect((await decide(p, call("arn:aws:s3:::home/alice/a", ctx))).allowed).toBe(false);
    expect(
      (await decide(p, call("arn:aws:s3:::home/bob/a", { ...ctx, sourceIp: "203.0.113.1" }))).allowed,
    ).toBe(false);
  });

  it("a permissions boundary must allow too, and a Deny anywhere names its statement", async () => {
    const identity = [{ name: "wide", document: doc(allow({ Action: "s3:*" })) }];
    const boundary = {
      name: "objects-only",
      document: doc(allow({ Action: "s3:*", Resource: "arn:aws:s3:::*/*" })),
    };
    expect(await decide({ principal, identity, boundary }, call(OBJ))).toEqual({ allowed: true });
    const outside = await decide({ principal, identity, boundary }, call("arn:aws:s3:::alpha"));
    expect(outside).toEqual({
      allowed: false,
      reason: "ImplicitlyDenied: the permissions boundary objects-only does not allow it",
    });
    const denied = await decide(
      {
        principal,
        identity: [
          ...identity,
          { name: "guard", document: doc(deny({ Sid: "NoLogs", Resource: "arn:aws:s3:::alpha/logs/*" })) },
        ],
      },
      call(OBJ),
    );
    expect(denied).toEqual({
      allowed: false,
      reason: "ExplicitlyDenied by policy guard, statement 1 (NoLogs)",
    });
  });
});

describe("agrees with set semantics over the expanded catalogue", () => {
  const catalogue = createActionCatalogue();
  const actionPatterns = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:*",
    "s3:Get*",
    "s3:*Object",
    "s3:?etObject",
    "S3:LIST*",
    "ec2:Describe*",
    "ec2:*Instances",
    "iam:*",
    "iam:Get*",
    "*",
  ];
  // Resource patterns with the resources of the universe each one covers, listed by hand.
  const objects = ["arn:aws:s3:::alpha/a.txt", "arn:aws:s3:::alpha/logs/b.txt", "arn:aws:s3:::beta/c.txt"];
  const buckets = ["arn:aws:s3:::alpha", "arn:aws:s3:::beta"];
  const instances = [
    `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-1`,
    `arn:aws:ec2:eu-west-1:${ACCOUNT}:instance/i-2`,
  ];
  const role = `arn:aws:iam::${ACCOUNT}:role/app`;
  const universe = ["*", ...objects, ...buckets, ...instances, role];
  const resourcePatterns: Record<string, string[]> = {
    "*": universe,
    "arn:aws:s3:::alpha/*": objects.slice(0, 2),
    "arn:aws:s3:::alpha": ["arn:aws:s3:::alpha"],
    "arn:aws:s3:::*": [...objects, ...buckets],
    "arn:aws:s3:::?eta*": ["arn:aws:s3:::beta/c.txt", "arn:aws:s3:::beta"],
    "arn:aws:s3:::ALPHA/*": [],
    [`arn:aws:ec2:*:${ACCOUNT}:instance/*`]: instances,
    [`arn:aws:ec2:us-east-1:*:instance/i-?`]: instances.slice(0, 1),
    [role]: [role],
    "arn:aws:iam::*": [role],
  };
  const statementArb = fc.record({
    effect: fc.constantFrom<"Allow" | "Deny">("Allow", "Allow", "Deny"),
    not: fc.boolean(),
    notResource: fc.boolean(),
    actions: fc.uniqueArray(fc.constantFrom(...actionPatterns), { minLength: 1, maxLength: 3 }),
    resources: fc.uniqueArray(fc.constantFrom(...Object.keys(resourcePatterns)), {
      minLength: 1,
      maxLength: 2,
    }),
  });

  it("Deny beats Allow, NotAction and NotResource included", async () => {
    const all = await catalogue.all();
    const candidates = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:ListBucket",
      "s3:GetObjectAcl",
      "ec2:DescribeInstances",
      "ec2:StartInstances",
      "iam:GetRole",
      "iam:PassRole",
      "sqs:SendMessage",
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(statementArb, { minLength: 1, maxLength: 4 }),
        fc.array(
          fc.tuple(
            fc.oneof(fc.constantFrom(...candidates), fc.constantFrom(...all)),
            fc.constantFrom(...universe),
          ),
          {
            minLength: 1,
            maxLength: 10,
          },
        ),
        async (stmts, requests) => {
          const policy: PolicyStatement[] = stmts.map((s) => ({
            Effect: s.effect,
            ...(s.not ? { NotAction: s.actions } : { Action: s.actions }),
            ...(s.notResource ? { NotResource: s.resources } : { Resource: s.resources }),
          }));
          // Brute force: each statement's (action, resource) pairs as sets.
          const sets = await Promise.all(
            stmts.map(async (s) => {
              const actions = await catalogue.effective(
                s.not ? undefined : s.actions,
                s.not ? s.actions : undefined,
              );
              const named = new Set(s.resources.flatMap((r) => resourcePatterns[r] as string[]));
              const resources = new Set(s.notResource ? universe.filter((r) => !named.has(r)) : named);
              return { effect: s.effect, actions, resources };
            }),
          );
          for (const [action, resource] of requests) {
            const hit = (e: "Allow" | "Deny") =>
              sets.some((s) => s.effect === e && s.actions.has(action) && s.resources.has(resource));
            const expected: Decision = hit("Deny")
              ? "ExplicitlyDenied"
              : hit("Allow")
                ? "Allowed"
                : "ImplicitlyDenied";
            expect(evaluate(policy, action, resource), `${action} ${resource}`).toBe(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
