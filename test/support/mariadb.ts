// A real MariaDB (or MySQL) server for tests: RAMPART_TEST_MYSQL_URL when CI provides one (.ci/run),
// else a throwaway mariadbd on a free loopback port with an admin user that has a password.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import mysql from "mysql2/promise";
import { freePort, type RunningService } from "./services.ts";

const ADMIN = { user: "rampart", password: "rampart-test-admin" };

function mariadbBin(name: string): string {
  for (const dir of ["/usr/sbin", "/usr/bin", "/usr/local/bin"]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new Error(
    `MariaDB binary '${name}' not found: install it (apt-get install mariadb-server) or set RAMPART_TEST_MYSQL_URL`,
  );
}

/** The test MySQL/MariaDB server: the one in RAMPART_TEST_MYSQL_URL, or a private mariadbd. */
export async function startMariadb(): Promise<RunningService> {
  const given = process.env.RAMPART_TEST_MYSQL_URL;
  if (given) return { url: given, stop: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), "rampart-mariadb-"));
  // mariadbd refuses to run as root: as root the server drops to the 'mysql' user.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync("chown", ["mysql", dir]);
  const user = asRoot ? ["--user=mysql"] : [];
  const data = join(dir, "data");
  const socket = join(dir, "mysqld.sock");
  execFileSync(
    mariadbBin("mariadb-install-db"),
    [
      "--no-defaults",
      `--datadir=${data}`,
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
      ...user,
    ],
    { stdio: "ignore" },
  );
  const port = await freePort();
  const proc: ChildProcess = spawn(
    mariadbBin("mariadbd"),
    [
      "--no-defaults",
      `--datadir=${data}`,
      `--socket=${socket}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--pid-file=${join(dir, "mysqld.pid")}`,
      `--log-error=${join(dir, "error.log")}`,
      "--skip-name-resolve",
      "--skip-log-bin",
      "--innodb-buffer-pool-size=16M",
      ...user,
    ],
    { stdio: "ignore" },
  );
  proc.on("error", () => {});
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await Promise.race([exited, sleep(10_000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        // root has no password on the socket; it creates the admin the tests use over TCP.
        const c = await mysql.createConnection({ socketPath: socket, user: "root" });
        await c.query("CREATE OR REPLACE USER ?@'%' IDENTIFIED BY ?", [ADMIN.user, ADMIN.password]);
        await c.query("GRANT ALL ON *.* TO ?@'%' WITH GRANT OPTION", [ADMIN.user]);
        await c.end();
        break;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`MariaDB did not start within 30 s: ${(err as Error).message}`, { cause: err });
        await sleep(100);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `mysql://${ADMIN.user}:${ADMIN.password}@127.0.0.1:${port}/`, stop };
}
