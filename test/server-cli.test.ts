// `sessionvisor serve` and `sessionvisor token` as a user runs them: a child process, its output,
// its exit code, and real HTTP against it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { SessionSystem, silentLogger } from "../src/index.js";
import { CLI, envWith, reapServeChildren, startServe } from "./support/serve-cli.js";

const TEST_TIMEOUT = { timeout: 60_000 };

const dirs: string[] = [];

afterEach(async () => {
  await reapServeChildren();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-serve-cli-"));
  dirs.push(dir);
  return dir;
}

describe("sessionvisor serve (the command)", () => {
  it("prints its URL, serves, and exits 0 on SIGTERM with the store closed", TEST_TIMEOUT, async () => {
    const dataDir = join(tempDir(), "data");
    const served = await startServe(["--port", "0", "--data-dir", dataDir]);
    assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(await (await fetch(`${served.url}/healthz`)).json(), { status: "ok" });
    const created = await fetch(`${served.url}/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "from the cli" }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };

    served.child.kill("SIGTERM");
    const { code, signal } = await served.exit;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, served.stderr());

    const system = await SessionSystem.start({
      storePath: join(dataDir, "sessions.db"),
      logger: silentLogger(),
    });
    try {
      assert.equal((await system.getSession(id))?.name, "from the cli");
    } finally {
      await system.stop();
    }
  });

  it("exits 0 on SIGINT too", TEST_TIMEOUT, async () => {
    const served = await startServe(["--port", "0", "--data-dir", join(tempDir(), "data")]);
    served.child.kill("SIGINT");
    const exit = await served.exit;
    assert.deepEqual(exit, { code: 0, signal: null }, served.stderr());
  });

  it("refuses a non-loopback host without tokens: exit 2 with a clear line", TEST_TIMEOUT, () => {
    const dataDir = join(tempDir(), "data");
    const run = spawnSync(
      process.execPath,
      [...CLI, "serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", dataDir],
      { encoding: "utf8", timeout: 30_000, killSignal: "SIGKILL", env: envWith() },
    );
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /0\.0\.0\.0 is not a loopback address and no tokens are configured/);
    assert.equal(run.stdout, "");
  });

  it("refuses a data directory it cannot make: exit 2 naming it", TEST_TIMEOUT, () => {
    const file = join(tempDir(), "a-file");
    writeFileSync(file, "");
    for (const dataDir of [join(file, "data"), file, "/proc/sessionvisor-cannot-be-here"]) {
      const run = spawnSync(process.execPath, [...CLI, "serve", "--port", "0", "--data-dir", dataDir], {
        encoding: "utf8",
        timeout: 30_000,
        killSignal: "SIGKILL",
        env: envWith(),
      });
      assert.equal(run.status, 2, `${dataDir}: ${run.stderr}`);
      assert.match(run.stderr, /invalid dataDir: cannot create/);
    }
  });

  it("logs readable lines by default", TEST_TIMEOUT, async () => {
    const served = await startServe(["--port", "0", "--memory"], envWith({ SESSIONVISOR_LOG_LEVEL: "info" }));
    served.child.kill("SIGTERM");
    await served.exit;
    assert.match(
      served.stderr(),
      /^\d\d:\d\d:\d\d INFO {2}sessionvisor serving on http:\S+ event=server_listening/m,
    );
  });

  it("logs pino JSON lines with --log-format json", TEST_TIMEOUT, async () => {
    const served = await startServe(
      ["--port", "0", "--memory", "--log-format", "json"],
      envWith({ SESSIONVISOR_LOG_LEVEL: "info" }),
    );
    served.child.kill("SIGTERM");
    await served.exit;
    const records = served
      .stderr()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { event?: string; level: number });
    assert.ok(records.some((record) => record.event === "server_listening" && record.level === 30));
  });

  it("refuses an unknown --log-format with exit 2", TEST_TIMEOUT, () => {
    const run = spawnSync(process.execPath, [...CLI, "serve", "--log-format", "xml"], {
      encoding: "utf8",
      timeout: 30_000,
      killSignal: "SIGKILL",
      env: envWith(),
    });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--log-format: must be pretty or json/);
  });

  it("refuses a bad --port with exit 2", TEST_TIMEOUT, () => {
    const run = spawnSync(process.execPath, [...CLI, "serve", "--port", "eighty"], {
      encoding: "utf8",
      timeout: 30_000,
      killSignal: "SIGKILL",
      env: envWith(),
    });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--port must be a whole number/);
  });

  it("serves with a tokens file made from `sessionvisor token`", TEST_TIMEOUT, async () => {
    const made = spawnSync(process.execPath, [...CLI, "token", "--owner", "alice"], {
      encoding: "utf8",
      timeout: 30_000,
      killSignal: "SIGKILL",
    });
    assert.equal(made.status, 0, made.stderr);
    const token = /^token {2}(\S+)$/m.exec(made.stdout)?.[1];
    const entry = /^entry {2}(\{.*\})$/m.exec(made.stdout)?.[1];
    assert.ok(token && entry, made.stdout);
    const dir = tempDir();
    const tokensFile = join(dir, "tokens.json");
    writeFileSync(tokensFile, JSON.stringify([JSON.parse(entry)]));

    const served = await startServe(["--port", "0", "--data-dir", join(dir, "data"), "--tokens", tokensFile]);
    const without = await fetch(`${served.url}/v1/sessions`);
    assert.equal(without.status, 401);
    const withToken = await fetch(`${served.url}/v1/sessions`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(withToken.status, 200);
  });

  it("reads tokens from SESSIONVISOR_TOKENS when no file is given", TEST_TIMEOUT, async () => {
    const served = await startServe(
      ["--port", "0", "--data-dir", join(tempDir(), "data")],
      envWith({ SESSIONVISOR_TOKENS: JSON.stringify([{ owner: "carol", sha256: "ab".repeat(32) }]) }),
    );
    assert.equal((await fetch(`${served.url}/v1/sessions`)).status, 401);
  });

  it("refuses a tokens file that is not a tokens list: exit 2 naming the field", TEST_TIMEOUT, () => {
    const dir = tempDir();
    const tokensFile = join(dir, "tokens.json");
    writeFileSync(tokensFile, JSON.stringify([{ owner: "alice", token: "plain-text-secret" }]));
    const run = spawnSync(
      process.execPath,
      [...CLI, "serve", "--port", "0", "--data-dir", join(dir, "data"), "--tokens", tokensFile],
      { encoding: "utf8", timeout: 30_000, killSignal: "SIGKILL", env: envWith() },
    );
    assert.equal(run.status, 2);
    assert.match(run.stderr, /tokens\.json\.0/);
  });

  it("is not loaded by importing sessionvisor: hono comes with the first server", TEST_TIMEOUT, () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, "hook.mjs"),
      'export async function resolve(s, c, next) { if (s.includes("hono")) process.stderr.write("LOADED " + s + "\\n"); return next(s, c); }\n',
    );
    writeFileSync(
      join(dir, "register.mjs"),
      `import { register } from "node:module";\nregister(${JSON.stringify(`file://${join(dir, "hook.mjs")}`)});\n`,
    );
    const run = (code: string) =>
      spawnSync(
        process.execPath,
        ["--import", join(dir, "register.mjs"), "--import", "tsx", "--input-type=module", "-e", code],
        {
          encoding: "utf8",
          timeout: 30_000,
          killSignal: "SIGKILL",
        },
      );
    const imported = run('await import("./src/index.ts"); console.log("imported");');
    assert.equal(imported.stdout.trim(), "imported", imported.stderr);
    assert.doesNotMatch(imported.stderr, /LOADED/);
    const served = run(
      'const m = await import("./src/index.ts"); const s = await m.SessionSystem.start(); const v = await m.serve({ system: s, port: 0 }); await v.close(); await s.stop(); console.log("served");',
    );
    assert.equal(served.stdout.trim(), "served", served.stderr);
    assert.match(served.stderr, /LOADED hono/);
  });

  it("prints its options on --help and exits 0", TEST_TIMEOUT, () => {
    const run = spawnSync(process.execPath, [...CLI, "serve", "--help"], {
      encoding: "utf8",
      timeout: 30_000,
      killSignal: "SIGKILL",
    });
    assert.equal(run.status, 0);
    for (const flag of ["--port", "--host", "--data-dir", "--tokens"])
      assert.match(run.stdout, new RegExp(flag));
  });
});
