import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RampartError } from "../platform/errors.ts";
import { type ConfigEnv, ConfigError, type ConfigIssue, loadConfig, parseConfig } from "./index.ts";
import { loadConfigStaged } from "./load.ts";

const noFiles = async (path: string): Promise<string> => {
  throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: "ENOENT" });
};

/** The issues a config text yields; fails the test if it parses. */
async function issuesOf(text: string, env: ConfigEnv = {}, readFile = noFiles): Promise<ConfigIssue[]> {
  const error = await parseConfig(text, "rampart.yaml", env, { readFile }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return [...(error as ConfigError).issues];
}

/** `line:column path: message` of each issue, for compact expectations. */
const brief = (issues: ConfigIssue[]) => issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`);

describe("parseConfig: located errors", () => {
  it("reports a YAML syntax error with file:line:column", async () => {
    const issues = await issuesOf("version: 1\nversion: 1\n");
    expect(issues).toEqual([
      { file: "rampart.yaml", line: 2, column: 1, path: "", message: "Map keys must be unique" },
    ]);

    const [unclosed] = await issuesOf("version: 1\nserver:\n  port: [1, 2\n");
    expect(unclosed?.file).toBe("rampart.yaml");
    expect(unclosed?.line).toBe(4);
    expect(unclosed?.message).toMatch(/flow sequence/i);
  });

  it("reports a wrong type at the value", async () => {
    const issues = await issuesOf("version: 1\nserver:\n  port: eighty\n");
    expect(brief(issues)).toEqual(["3:9 server.port: expected a number, got a string"]);
  });

  it("reports an unknown key at the key, listing the known ones", async () => {
    const issues = await issuesOf("version: 1\ndatabase:\n  dataDir: ./x\n  ulr: postgres://db/rampart\n");
    expect(brief(issues)).toEqual(["4:3 database.ulr: unknown key (expected one of: url, dataDir)"]);
  });

  it("reports a missing environment variable at its scalar", async () => {
    const issues = await issuesOf("version: 1\ndatabase:\n  url: ${env:DB_URL}\n");
    expect(issues).toEqual([
      {
        file: "rampart.yaml",
        line: 3,
        column: 8,
        path: "database.url",
        message: "environment variable DB_URL is not set",
      },
    ]);
  });

  it("reports an unreadable file reference at its scalar", async () => {
    const text =
      "version: 1\nevents:\n  ingestTokens:\n    - name: gw\n      token: ${file:secrets/ingest}\n";
    expect(brief(await issuesOf(text))).toEqual([
      "5:14 events.ingestTokens[0].token: cannot read file secrets/ingest (ENOENT)",
    ]);
  });

  it("reports a bad upstream URL at routes[2].upstream", async () => {
    const text = [
      "version: 1",
      "routes:",
      "  - upstream: http://a.internal:8080",
      "  - path: /api",
      "    upstream: https://b.internal",
      "  - path: /legacy",
      "    upstream: ftp://files.internal",
    ].join("\n");
    expect(await issuesOf(text)).toEqual([
      {
        file: "rampart.yaml",
        line: 7,
        column: 15,
        path: "routes[2].upstream",
        message: "expected an http(s) URL",
      },
    ]);
  });

  it("refuses a security retention below 365 days", async () => {
    const text = "version: 1\naudit:\n  retention:\n    security: 30\n";
    expect(brief(await issuesOf(text))).toEqual([
      "4:15 audit.retention.security: security retention must be at least 365 days",
    ]);
  });

  it("points a missing key at the mapping that lacks it", async () => {
    const text = "version: 1\nroutes:\n  - path: /x\n    host: a.example\n";
    expect(brief(await issuesOf(text))).toEqual([
      "3:5 routes[0].upstream: required (or upstreams: a list of URLs)",
    ]);
    expect(brief(await issuesOf("server:\n  port: 1\n"))).toEqual(["1:1 version: required"]);
  });

  it("refuses a wrong version, an unknown environment and a non-mapping root", async () => {
    expect(brief(await issuesOf("version: 2\nenvironment: qa\n"))).toEqual([
      "1:10 version: expected 1",
      '2:14 environment: expected one of: "dev", "sit", "uat", "prod"',
    ]);
    expect(brief(await issuesOf("- version: 1\n"))).toEqual(["1:1 : expected a mapping, got a list"]);
    expect(brief(await issuesOf(""))).toEqual([
      "1:1 : no settings found; the file needs at least `version: 1`",
    ]);
  });

  it("reports every problem, in file order, in one error", async () => {
    const text = [
      "version: 1", // 1
      "environment: production", // 2
      "server:", // 3
      "  port: 70000", // 4
      "  colour: blue", // 5
      "database:", // 6
      "  url: ${env:DB_URL}", // 7
      "audit:", // 8
      "  retention: { security: 30, audit: 0 }", // 9
      "routes:", // 10
      "  - upstream: not a url", // 11
      "  - path: api", // 12
      "    upstream: ${env:API_UPSTREAM}", // 13
    ].join("\n");
    const error = await parseConfig(text, "conf/rampart.yaml", {}, { readFile: noFiles }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(RampartError);
    const configError = error as ConfigError;
    expect(configError.code).toBe("config_invalid");
    expect(configError.status).toBe(400);
    expect(configError.message.split("\n")).toEqual([
      'conf/rampart.yaml:2:14 environment: expected one of: "dev", "sit", "uat", "prod"',
      "conf/rampart.yaml:4:9 server.port: must be at most 65535",
      "conf/rampart.yaml:5:3 server.colour: unknown key (expected one of: host, port, publicUrl, assertionAudience)",
      "conf/rampart.yaml:7:8 database.url: environment variable DB_URL is not set",
      "conf/rampart.yaml:9:26 audit.retention.security: security retention must be at least 365 days",
      "conf/rampart.yaml:9:37 audit.retention.audit: must be at least 1",
      "conf/rampart.yaml:11:15 routes[0].upstream: expected an http(s) URL",
      'conf/rampart.yaml:12:11 routes[1].path: path must start with "/"',
      "conf/rampart.yaml:13:15 routes[1].upstream: environment variable API_UPSTREAM is not set",
    ]);
  });

  it("rejects malformed references instead of passing them through", async () => {
    expect(brief(await issuesOf("version: 1\nserver:\n  host: ${vault:x}\n"))).toEqual([
      "3:9 server.host: unknown reference ${vault:x}: expected ${env:NAME}, ${file:PATH} or ${secret:/env/service/name} (write $${ for a literal ${)",
    ]);
    expect(brief(await issuesOf("version: 1\nserver:\n  host: '${env:X'\n"))).toEqual([
      "3:9 server.host: unterminated ${ reference (write $${ for a literal ${)",
    ]);
  });

  it("refuses self-referencing aliases and keeps __proto__ an ordinary unknown key", async () => {
    const issues = await issuesOf("version: 1\nserver: &s { host: *s }\n__proto__: { polluted: true }\n");
    expect(brief(issues)).toEqual([
      "2:20 server.host: alias *s refers to a node that contains it",
      "3:1 __proto__: unknown key (expected one of: version, environment, server, database, hotState, events, audit, gateway, routes, identity, rbac, jit, secrets, detect, alerts, incidents, playbooks, siem, iam, privacy, compliance)",
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("parseConfig: secrets stay out of errors", () => {
  it("never quotes a resolved env or file value", async () => {
    const env = {
      DB_URL: "mysql://admin:hunter2-db@db.internal/rampart",
      UPSTREAM: "gopher://hunter2-upstream",
      PORT: "hunter2",
    };
    const readFile = async () => "hunter2-token\n";
    const text = [
      "version: 1",
      "server:",
      "  port: ${env:PORT}",
      "database:",
      "  url: ${env:DB_URL}",
      "events:",
      "  ingestTokens:",
      "    - name: gw",
      "      token: ${file:token}",
      "routes:",
      "  - upstream: x${env:UPSTREAM}",
    ].join("\n");
    const error = (await parseConfig(text, "rampart.yaml", env, { readFile }).catch(
      (e: unknown) => e,
    )) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.issues.map((i) => i.path)).toEqual([
      "server.port",
      "database.url",
      "events.ingestTokens[0].token",
      "routes[0].upstream",
    ]);
    expect(error.message).not.toContain("hunter2");
    expect(JSON.stringify(error.issues)).not.toContain("hunter2");
  });
});

describe("parseConfig: references", () => {
  it("resolves whole and embedded env references, file references and the $${ escape", async () => {
    const reads: string[] = [];
    const readFile = async (path: string) => {
      reads.push(path);
      return "a".repeat(40);
    };
    const text = [
      "version: 1",
      "server:",
      "  host: ${env:HOST}",
      "  port: ${env:PORT}",
      "  publicUrl: https://${env:HOST}:${env:PORT}/$${literal}",
      "events:",
      "  ingestTokens:",
      "    - { name: a, token: '${file:secrets/token}' }",
      "    - { name: b, token: '${file:/abs/token}' }",
      "    - { name: c, token: 'prefix-${file:secrets/token}' }",
    ].join("\n");
    const config = await parseConfig(
      text,
      "/etc/rampart/rampart.yaml",
      { HOST: "gw.example", PORT: "8443" },
      { readFile },
    );
    expect(config.server).toEqual({
      host: "gw.example",
      port: 8443,
      publicUrl: "https://gw.example:8443/${literal}",
    });
    expect(config.events.ingestTokens.map((t) => t.token)).toEqual([
      "a".repeat(40),
      "a".repeat(40),
      `prefix-${"a".repeat(40)}`,
    ]);
    // Relative to the config file's directory; each file read once.
    expect(reads.sort()).toEqual(["/abs/token", "/etc/rampart/secrets/token"]);
  });

  it("does not resolve references inside resolved values", async () => {
    const config = await parseConfig("version: 1\nserver:\n  host: ${env:A}\n", "r.yaml", {
      A: "${env:B}",
      B: "no",
    });
    expect(config.server.host).toBe("${env:B}");
  });

  it("ignores inherited properties of the env object", async () => {
    expect(brief(await issuesOf("version: 1\nserver:\n  host: ${env:constructor}\n", {}))).toEqual([
      "3:9 server.host: environment variable constructor is not set",
    ]);
  });
});

describe("loadConfig", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "rampart-config-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the file and its ${file:} references from disk, trimming one trailing newline", async () => {
    await mkdir(join(dir, "secrets"));
    await writeFile(join(dir, "secrets", "db-url"), "postgres://rampart@db.internal:5432/rampart\n");
    const path = join(dir, "rampart.yaml");
    await writeFile(path, "version: 1\nenvironment: prod\ndatabase:\n  url: ${file:secrets/db-url}\n");
    const config = await loadConfig(path, { env: {} });
    expect(config.environment).toBe("prod");
    expect(config.database).toEqual({
      url: "postgres://rampart@db.internal:5432/rampart",
      dataDir: "./.rampart",
    });
  });

  it("reports an unreadable config file as a ConfigError", async () => {
    const path = join(dir, "missing.yaml");
    const error = await loadConfig(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(`${path}:1:1 cannot read config file (ENOENT)`);
  });
});

describe("rampart.example.yaml", () => {
  const examplePath = resolve(import.meta.dirname, "../../rampart.example.yaml");
  const env = { RAMPART_INGEST_TOKEN: "t".repeat(48) };

  it("validates against the schema", async () => {
    const config = await loadConfig(examplePath, { env });
    expect(config.version).toBe(1);
    expect(config.events.ingestTokens).toEqual([{ name: "gateway", token: env.RAMPART_INGEST_TOKEN }]);
    expect(config.routes.length).toBeGreaterThan(0);
  });

  it("still validates with its commented-out optional keys enabled", async () => {
    const text = (await readFile(examplePath, "utf8")).replace(/^(\s*)# (url|redisUrl): /gm, "$1$2: ");
    const config = await parseConfig(text, examplePath, {
      ...env,
      DATABASE_URL: "postgresql://rampart@db:5432/rampart",
      REDIS_URL: "rediss://redis:6379",
    });
    expect(config.database.url).toBe("postgresql://rampart@db:5432/rampart");
    expect(config.hotState.redisUrl).toBe("rediss://redis:6379");
  });
});

describe("${secret:…} references", () => {
  const DB_PASSWORD = "pg-Pa55w0rd-ref-77c1";
  const store: Record<string, Record<string, string>> = {
    "/prod/db/password": { value: DB_PASSWORD },
    "/prod/db/creds": { user: "api", password: DB_PASSWORD },
  };
  const asked: string[] = [];
  const secrets = async (path: string) => {
    asked.push(path);
    const found = store[path];
    if (!found) throw new RampartError("not_found", 404, `no secret at ${path}`);
    return found;
  };
  const withSecrets = async (text: string) => {
    const error = await parseConfig(text, "rampart.yaml", {}, { readFile: noFiles, secrets }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const issues = [...(error as ConfigError).issues];
    expect(JSON.stringify(issues) + (error as Error).message).not.toContain(DB_PASSWORD);
    return issues;
  };

  it("resolves a one-key secret, a #key of a map, inside text, each secret read once", async () => {
    asked.length = 0;
    const cfg = await parseConfig(
      [
        "version: 1",
        "server:",
        "  host: ${secret:/prod/db/password}",
        "database:",
        "  url: postgres://${secret:/prod/db/creds#user}:${secret:/prod/db/creds#password}@db/rampart",
      ].join("\n"),
      "rampart.yaml",
      {},
      { readFile: noFiles, secrets },
    );
    expect(cfg.server.host).toBe(DB_PASSWORD);
    expect(cfg.database.url).toBe(`postgres://api:${DB_PASSWORD}@db/rampart`);
    expect(asked.toSorted()).toEqual(["/prod/db/creds", "/prod/db/password"]);
  });

  it("without a resolver, refuses the reference at file:line, naming it", async () => {
    const issues = await issuesOf("version: 1\nserver:\n  host: ${secret:/prod/db/password}\n");
    expect(brief(issues)).toEqual([
      "3:9 server.host: ${secret:/prod/db/password} needs the secrets store, and this command loads the config without it (run it where the server can resolve secrets, or use ${env:…})",
    ]);
  });

  it("a multi-key secret without #key, a missing key, a missing secret: located, no values", async () => {
    expect(brief(await withSecrets("version: 1\nserver:\n  host: ${secret:/prod/db/creds}\n"))).toEqual([
      "3:9 server.host: ${secret:/prod/db/creds} holds 2 keys (user, password): name one as ${secret:/prod/db/creds#KEY}",
    ]);
    expect(brief(await withSecrets("version: 1\nserver:\n  host: ${secret:/prod/db/creds#pass}\n"))).toEqual([
      "3:9 server.host: ${secret:/prod/db/creds#pass}: the secret has no key pass (it has user, password)",
    ]);
    expect(brief(await withSecrets("version: 1\nserver:\n  host: ${secret:/prod/db/gone}\n"))).toEqual([
      "3:9 server.host: cannot resolve ${secret:/prod/db/gone}: no secret at /prod/db/gone",
    ]);
  });

  it("a resolver's unexpected error is reduced to its name, in case it quotes a value", async () => {
    const leaky = async () => {
      throw new TypeError(`bad value ${DB_PASSWORD}`);
    };
    const error = await parseConfig(
      "version: 1\nserver:\n  host: ${secret:/prod/db/x}\n",
      "rampart.yaml",
      {},
      {
        secrets: leaky,
      },
    ).catch((caught: unknown) => caught as ConfigError);
    expect(brief([...(error as ConfigError).issues])).toEqual([
      "3:9 server.host: cannot resolve ${secret:/prod/db/x}: TypeError",
    ]);
  });

  it("malformed secret references are refused before any lookup", async () => {
    asked.length = 0;
    expect(brief(await withSecrets("version: 1\nserver:\n  host: ${secret:prod/db}\n"))).toEqual([
      "3:9 server.host: invalid secret path in ${secret:prod/db}: expected ${secret:/environment/service/name}",
    ]);
    expect(brief(await withSecrets("version: 1\nserver:\n  host: '${secret:/prod/db/creds#}'\n"))).toEqual([
      "3:9 server.host: invalid key after '#' in ${secret:/prod/db/creds#}",
    ]);
    expect(asked).toEqual([]);
  });
});

describe("loadConfigStaged: bootstrap sections first, ${secret:…} once they run", () => {
  const file = "/etc/rampart/rampart.yaml";
  const staged = (text: string) =>
    loadConfigStaged(file, {
      env: {},
      readFile: async () => text,
      bootstrap: ["version", "database", "secrets.root"],
      because: "the secrets store needs this section to open",
    });

  it("a file without references loads whole", async () => {
    const result = await staged("version: 1\nserver:\n  port: 7001\n");
    expect(result.complete && result.config.server.port).toBe(7001);
  });

  it("references outside the bootstrap paths: the bootstrap part alone, and the references located", async () => {
    const result = await staged(
      "version: 1\ndatabase:\n  dataDir: /var/rampart\nserver:\n  host: ${secret:/prod/net/host}\nsecrets:\n  maxVersions: 3\n",
    );
    expect(result.complete).toBe(false);
    if (result.complete) return;
    expect(result.bootstrap.database.dataDir).toBe("/var/rampart");
    // Left out unread: the default stands until the whole file is loaded with a resolver.
    expect(result.bootstrap.server.host).toBe("127.0.0.1");
    expect(result.bootstrap.secrets.maxVersions).toBe(10);
    expect(result.references.map((i) => [i.line, i.column, i.path, i.code])).toEqual([
      [5, 9, "server.host", "secret-needs-store"],
    ]);
  });

  it("a reference inside a bootstrap path, and any other problem, fail at once, located", async () => {
    const error = await staged(
      "version: 1\ndatabase:\n  url: ${secret:/prod/db/url}\nserver:\n  port: -1\n  host: ${secret:/prod/net/host}\n",
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect(brief([...(error as ConfigError).issues])).toEqual([
      "3:8 database.url: database cannot use ${secret:…}: the secrets store needs this section to open",
      "5:9 server.port: must be at least 0",
    ]);
  });
});
