// A server owns its data directory while it runs: a second server, or the CLI's embedded mode,
// on the same SQLite file would restore and run every session a second time. And `--memory`
// serves without a data directory (or better-sqlite3) at all.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DataDirInUseError, LOCK_FILE, type RunningServer, serve } from "../src/index.js";

const T = { timeout: 60_000 };
const root = mkdtempSync(join(tmpdir(), "sessionvisor-data-dir-"));
const running: RunningServer[] = [];
after(async () => {
  for (const server of running.splice(0)) await server.close();
  rmSync(root, { recursive: true, force: true });
});

async function started(options: Parameters<typeof serve>[0]): Promise<RunningServer> {
  const server = await serve({ port: 0, ...options });
  running.push(server);
  return server;
}

describe("a server's data directory", () => {
  it("is claimed while the server runs, with its pid and URL, and let go when it closes", T, async () => {
    const dataDir = join(root, "claimed");
    const server = await started({ dataDir });
    const lock = JSON.parse(readFileSync(join(dataDir, LOCK_FILE), "utf8")) as { pid: number; url: string };
    assert.equal(lock.pid, process.pid);
    assert.equal(lock.url, server.url);
    await server.close();
    assert.equal(existsSync(join(dataDir, LOCK_FILE)), false);
  });

  it("refuses a second server on the same directory, naming the first", T, async () => {
    const dataDir = join(root, "twice");
    const first = await started({ dataDir });
    await assert.rejects(
      serve({ port: 0, dataDir }),
      (error: unknown) => error instanceof DataDirInUseError && error.message.includes(first.url),
    );
    assert.equal((await fetch(`${first.url}/readyz`)).status, 200, "the first server is untouched");
  });

  it("takes over a lock left by a process that is gone", T, async () => {
    const dataDir = join(root, "stale");
    mkdirSync(dataDir);
    const gone = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    const pid = Number(gone.stdout.trim());
    writeFileSync(
      join(dataDir, LOCK_FILE),
      JSON.stringify({ pid, url: "http://127.0.0.1:1", startedAt: "" }),
    );
    const server = await started({ dataDir });
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  });

  it(
    "keeps the CLI's embedded mode off it while the server runs, pointing at the server's URL",
    T,
    async () => {
      const dataDir = join(root, "cli");
      const server = await started({ dataDir });
      const run = spawnSync(
        process.execPath,
        ["--import", "tsx", "src/cli/main.ts", "sessions", "list", "--data-dir", dataDir],
        { encoding: "utf8", timeout: 30_000 },
      );
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, /^error: data_dir_in_use: .*--url http:\/\/127\.0\.0\.1:\d+/m);
      assert.ok(run.stderr.includes(server.url));
    },
  );
});

describe("a server kept in memory", () => {
  it("serves sessions without creating a data directory", T, async () => {
    const cwdDir = join(root, "memory-not-here");
    const server = await started({ memory: true, dataDir: cwdDir });
    const created = await fetch(`${server.url}/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(created.status, 201);
    assert.equal(existsSync(cwdDir), false);
  });
});
