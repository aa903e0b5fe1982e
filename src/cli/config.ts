import type { Command } from "commander";
import { ConfigError, formatConfigIssue, loadConfig } from "../config/index.ts";

export function registerConfigCommands(program: Command): void {
  const config = program.command("config").description("policy-as-code configuration (rampart.yaml)");
  config
    .command("validate <file>")
    .description("check a config file and list every error with file:line:column")
    .option("--json", "machine-readable output")
    .action(async (file: string, o: { json?: boolean }) => {
      try {
        const cfg = await loadConfig(file);
        if (o.json) console.log(JSON.stringify({ valid: true, file, environment: cfg.environment }));
        else console.log(`${file}: valid (environment ${cfg.environment})`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (o.json) console.log(JSON.stringify({ valid: false, file, issues: err.issues }, null, 2));
        else {
          for (const i of err.issues) console.error(formatConfigIssue(i));
          console.error(`${err.issues.length} error${err.issues.length === 1 ? "" : "s"} in ${file}`);
        }
        process.exitCode = 1;
      }
    });
}
