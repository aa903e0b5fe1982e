// The `rampart` command: parses arguments and calls modules; no business logic lives here.
import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { createLogger } from "../platform/logging.ts";
import { registerAccessCommands } from "./access.ts";
import { registerAuditCommands } from "./audit.ts";
import { registerBlockCommands } from "./blocks.ts";
import { registerWafCommands } from "./waf.ts";
import { registerPolicyCommands } from "./policy.ts";
import { registerConfigCommands } from "./config.ts";
import { registerIdentityCommands } from "./identity.ts";
import { registerIncidentCommands } from "./incident.ts";
import { registerPlaybookCommands } from "./playbook.ts";
import { registerDetectCommands } from "./detect.ts";
import { registerAlertCommands } from "./alerts.ts";
import { registerSecretsCommands } from "./secrets.ts";
import { registerScanCommands } from "./scan.ts";
import { registerIamCommands } from "./iam.ts";
import { registerPrivacyCommands } from "./privacy.ts";
import { registerComplianceCommands } from "./compliance.ts";
import { parseWorkers, superviseGateway } from "./gateway-workers.ts";
import { runGateway, runServer, runUp } from "./up.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

function portArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError("expected a port number 0-65535");
  return n;
}

function portOption(): Option {
  return new Option("-p, --port <port>", "port of the control plane").argParser(portArg);
}

function gatewayPortOption(): Option {
  return new Option(
    "--gateway-port <port>",
    "port of the edge gateway (default gateway.port, 7680)",
  ).argParser(portArg);
}

const program = new Command("rampart")
  .description(
    "Rampart: self-hosted zero-trust security platform (edge gateway, identity, secrets, privacy, audit, compliance)",
  )
  .version(pkg.version)
  // `rampart --version` before a command; after one, `--version` is the command's own (secrets get).
  .enablePositionalOptions()
  .showHelpAfterError("(run with --help for usage)");

program
  .command("up")
  .description("run Rampart on this machine with embedded storage; with no config, a self-contained demo")
  .option("-c, --config <file>", "rampart.yaml to use instead of the demo defaults")
  .addOption(portOption())
  .addOption(gatewayPortOption())
  .option("--data-dir <dir>", "where embedded state lives (default ./.rampart)")
  .action(async (o: { config?: string; port?: number; gatewayPort?: number; dataDir?: string }) =>
    runUp(o, createLogger()),
  );

program
  .command("gateway")
  .description("run the edge gateway alone, in front of the routes in a config file")
  .requiredOption("-c, --config <file>", "rampart.yaml")
  .addOption(gatewayPortOption())
  .option(
    "--control-plane <url>",
    "send security events to this control plane (its base URL), overriding gateway.controlPlane.url; the ingest token is gateway.controlPlane.token",
    (v: string) => {
      if (!/^https?:\/\//i.test(v) || !URL.canParse(v))
        throw new InvalidArgumentError(
          "expected the control plane's http(s) URL, e.g. https://rampart.example.com",
        );
      return v;
    },
  )
  .option(
    "--workers <n>",
    'gateway processes sharing the ports, one per core with "auto" (rate limits then need hotState.redisUrl)',
    "1",
  )
  .action(async (o: { config: string; gatewayPort?: number; controlPlane?: string; workers: string }) => {
    const workers = parseWorkers(o.workers);
    if (workers > 1 && cluster.isPrimary)
      await superviseGateway(
        { config: o.config, workers, ...(o.controlPlane ? { controlPlane: o.controlPlane } : {}) },
        createLogger(),
      );
    else await runGateway(o, createLogger());
  });

program
  .command("server")
  .description("run the control plane (API, schedulers) from a config file")
  .requiredOption("-c, --config <file>", "rampart.yaml")
  .action(async (o: { config: string }) => {
    await runServer(o, createLogger());
  });

registerConfigCommands(program);
registerAuditCommands(program);
registerBlockCommands(program);
registerWafCommands(program);
registerPolicyCommands(program);
registerAccessCommands(program);
registerIdentityCommands(program);
registerSecretsCommands(program);
registerIncidentCommands(program);
registerPlaybookCommands(program);
registerDetectCommands(program);
registerAlertCommands(program);
registerScanCommands(program);
registerIamCommands(program);
registerPrivacyCommands(program);
registerComplianceCommands(program);

program.parseAsync().catch((err: unknown) => {
  const e = err as Error & { code?: string };
  process.stderr.write(`rampart: ${e.message}\n`);
  process.exitCode = e.code === "config_invalid" ? 1 : 2;
});
