import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { NotFound } from "../platform/errors.ts";
import {
  ConfigError,
  type ConfigWatcher,
  createConfigWatcher,
  loadConfig,
  type RampartConfig,
} from "./index.ts";

const withPort = (port: number) => `version: 1\nserver:\n  port: ${port}\n`;

describe("createConfigWatcher", () => {
  let dir: string;
  let path: string;
  let watcher: ConfigWatcher | undefined;
  let changes: RampartConfig[];
  let rejections: ConfigError[];
  const callbacks = {
    onChange: (config: RampartConfig) => changes.push(config),
    onRejected: (error: ConfigError) => rejections.push(error),
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "rampart-watch-"));
    path = join(dir, "rampart.yaml");
    await writeFile(path, withPort(7001));
    changes = [];
    rejections = [];
  });
  afterEach(async () => {
    watcher?.close();
    watcher = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses to start on an invalid file", async () => {
    await writeFile(path, "version: 1\nserver:\n  port: -1\n");
    await expect(createConfigWatcher({ path, env: {} })).rejects.toBeInstanceOf(ConfigError);
  });

  it("starts from a config already loaded, and resolves ${secret:…} on each reload", async () => {
    const values: Record<string, Record<string, string>> = { "/dev/net/port": { port: "7002" } };
    const secrets = async (p: string) => {
      const found = values[p];
      if (!found) throw new NotFound(`no secret at ${p}`);
      return found;
    };
    const initial = await loadConfig(path, { env: {} });
    watcher = await createConfigWatcher({ path, env: {}, secrets, initial, ...callbacks });
    expect(watcher.current()).toBe(initial);

    await writeFile(path, "version: 1\nserver:\n  port: ${secret:/dev/net/port}\n");
    expect((await watcher.reload()).status).toBe("changed");
    expect(watcher.current().server.port).toBe(7002);

    await writeFile(path, "version: 1\nserver:\n  port: ${secret:/dev/net/gone}\n");
    const rejected = await watcher.reload();
    expect(rejected.status).toBe("rejected");
    expect(rejections[0]?.issues[0]?.message).toBe(
      "cannot resolve ${secret:/dev/net/gone}: no secret at /dev/net/gone",
    );
    expect(watcher.current().server.port).toBe(7002);
  });

  it("applies a valid change written to the file", async () => {
    watcher = await createConfigWatcher({ path, env: {}, debounceMs: 20, ...callbacks });
    const before = watcher.current();
    expect(before.server.port).toBe(7001);
    expect(Object.isFrozen(before.server)).toBe(true);

    await writeFile(path, withPort(7002));
    await vi.waitFor(() => expect(changes.map((c) => c.server.port)).toEqual([7002]), { timeout: 5000 });
    expect(watcher.current()).toBe(changes[0]);
    // The old object is untouched: whoever still holds it sees one whole config.
    expect(before.server.port).toBe(7001);
  });

  it("applies a change written by rename-replace, as editors and Kubernetes do", async () => {
    watcher = await createConfigWatcher({ path, env: {}, debounceMs: 20, ...callbacks });
    const temporary = join(dir, ".rampart.yaml.swp");
    await writeFile(temporary, withPort(7003));
    await rename(temporary, path);
    await vi.waitFor(() => expect(watcher?.current().server.port).toBe(7003), { timeout: 5000 });

    // The watch survives the replacement.
    await writeFile(path, withPort(7004));
    await vi.waitFor(() => expect(watcher?.current().server.port).toBe(7004), { timeout: 5000 });
    expect(changes.map((c) => c.server.port)).toEqual([7003, 7004]);
  });

  it("keeps the current config and reports an invalid file", async () => {
    watcher = await createConfigWatcher({ path, env: {}, debounceMs: 20, ...callbacks });
    const before = watcher.current();
    await writeFile(path, "version: 1\nserver:\n  port: 7005\n  prot: 1\n");
    await vi.waitFor(() => expect(rejections.length).toBeGreaterThan(0), { timeout: 5000 });
    expect(rejections[0]?.issues.map((i) => `${i.line}:${i.column} ${i.path}`)).toEqual(["4:3 server.prot"]);
    expect(watcher.current()).toBe(before);
    expect(changes).toEqual([]);

    // A later fix is applied.
    await writeFile(path, withPort(7006));
    await vi.waitFor(() => expect(watcher?.current().server.port).toBe(7006), { timeout: 5000 });
  });

  it("reloads on SIGHUP and stops listening when closed", async () => {
    const listeners = process.listenerCount("SIGHUP");
    // A debounce far longer than the test, so only the signal can cause the reload.
    watcher = await createConfigWatcher({ path, env: {}, debounceMs: 600_000, ...callbacks });
    expect(process.listenerCount("SIGHUP")).toBe(listeners + 1);

    await writeFile(path, withPort(7007));
    process.emit("SIGHUP", "SIGHUP");
    await vi.waitFor(() => expect(changes.map((c) => c.server.port)).toEqual([7007]), { timeout: 5000 });

    watcher.close();
    expect(process.listenerCount("SIGHUP")).toBe(listeners);
  });

  it("re-reads env references on reload and reports unchanged configs without onChange", async () => {
    const env: Record<string, string> = { PORT: "7008" };
    await writeFile(path, "version: 1\nserver:\n  port: ${env:PORT}\n");
    watcher = await createConfigWatcher({ path, env, debounceMs: 600_000, ...callbacks });
    expect(watcher.current().server.port).toBe(7008);

    expect((await watcher.reload()).status).toBe("unchanged");
    env.PORT = "7009";
    const result = await watcher.reload();
    expect(result.status).toBe("changed");
    expect(watcher.current().server.port).toBe(7009);

    delete env.PORT;
    const rejected = await watcher.reload();
    expect(rejected.status).toBe("rejected");
    expect(watcher.current().server.port).toBe(7009);
    expect(changes.map((c) => c.server.port)).toEqual([7009]);
    expect(rejections.map((e) => e.issues[0]?.message)).toEqual(["environment variable PORT is not set"]);
  });

  it("runs reloads one at a time and joins a request to one that has not started", async () => {
    let reads = 0;
    let release: (() => void) | undefined;
    const readFile = async () => {
      reads += 1;
      if (reads === 2) await new Promise<void>((resolve) => (release = resolve));
      return withPort(7000 + reads);
    };
    watcher = await createConfigWatcher({ path, env: {}, readFile, debounceMs: 600_000, ...callbacks });
    const first = watcher.reload(); // read 2, held
    await vi.waitFor(() => expect(release).toBeDefined());
    const second = watcher.reload();
    const third = watcher.reload();
    expect(third).toBe(second);
    release?.();
    expect((await first).config.server.port).toBe(7002);
    expect((await second).config.server.port).toBe(7003);
    expect(reads).toBe(3);
    expect(changes.map((c) => c.server.port)).toEqual([7002, 7003]);
  });
});
