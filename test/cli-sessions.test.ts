// `sessionvisor sessions …`, `tree` and `doctor` as a user runs them: child processes, their
// output and exit codes, against a real server (started in this process) or a store on disk.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { hashToken, newToken, type RunningServer, serve } from "../src/index.js";

const TEST_TIMEOUT = { timeout: 60_000 };
const CLI = ["--import", "tsx", "src/cli/main.ts"];
const ID_SHAPE = /^session_[0-9a-f-]{36}$/;

const children = new Set<ChildProcess>();
const dirs: string[] = [];

afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }
  children.clear();
});

after(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-cli-sessions-"));
  dirs.push(dir);
  return dir;
}

/** The caller's environment without sessionvisor's variables or colour settings, plus `extra`. */
function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const {
    SESSIONVISOR_TOKEN: _t,
    SESSIONVISOR_TOKENS: _ts,
    NO_COLOR: _n,
    FORCE_COLOR: _f,
    ...env
  } = process.env;
  return { ...env, ...extra };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the command as a child process (asynchronously: a server in this process keeps
 * answering) and resolves when it exits; killed after 30 s.
 */
function cli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; nodeArgs?: string[] } = {},
): Promise<Run> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...CLI, ...args], {
    env: options.env ?? envWith(),
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  child.stdin?.end(options.input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Runs the command and parses its stdout as JSON; fails with its stderr when it exits non-zero. */
async function cliJson<T>(args: string[], env?: NodeJS.ProcessEnv): Promise<T> {
  const run = await cli([...args, "--json"], env ? { env } : {});
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as T;
}

interface SessionJson {
  id: string;
  name?: string;
  status: string;
  restarts: number;
  hibernated?: boolean;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("sessionvisor sessions over --url", () => {
  const token = newToken();
  let server: RunningServer;
  let other: RunningServer;
  let tokenFile: string;
  let remote: string[];

  before(async () => {
    const tokens = [{ owner: "alice", sha256: hashToken(token) }];
    server = await serve({ port: 0, dataDir: join(tempDir(), "a"), tokens });
    other = await serve({ port: 0, dataDir: join(tempDir(), "b"), tokens });
    tokenFile = join(tempDir(), "token");
    writeFileSync(tokenFile, `${token}\n`);
    remote = ["--url", server.url, "--token-file", tokenFile];
  });

  after(async () => {
    await server?.close();
    await other?.close();
  });

  it(
    "creates, lists, shows, exports, terminates, restores, and imports into another server",
    TEST_TIMEOUT,
    async () => {
      const created = await cliJson<SessionJson>(["sessions", "create", "--name", "round trip", ...remote]);
      assert.match(created.id, ID_SHAPE);
      assert.deepEqual([created.name, created.status], ["round trip", "active"]);

      const listed = await cliJson<SessionJson[]>(["sessions", "list", ...remote]);
      assert.ok(listed.some((s) => s.id === created.id && s.name === "round trip"));
      const shown = await cliJson<SessionJson>(["sessions", "show", created.id, ...remote]);
      assert.equal(shown.id, created.id);

      const file = join(tempDir(), "doc.json");
      const exported = await cli(["sessions", "export", created.id, "--out", file, ...remote]);
      assert.equal(exported.code, 0, exported.stderr);
      assert.equal(exported.stdout, `exported ${created.id} to ${file}\n`);
      const document = JSON.parse(readFileSync(file, "utf8")) as { session: { id: string } };
      assert.equal(document.session.id, created.id);

      const terminated = await cli(["sessions", "terminate", created.id, ...remote]);
      assert.deepEqual(
        [terminated.code, terminated.stdout],
        [0, `terminated ${created.id}\n`],
        terminated.stderr,
      );
      const afterTerminate = await cliJson<SessionJson[]>(["sessions", "list", ...remote]);
      assert.ok(!afterTerminate.some((s) => s.id === created.id));
      const restored = await cliJson<SessionJson>(["sessions", "restore", created.id, ...remote]);
      assert.equal(restored.status, "active");
      const hibernated = await cli(["sessions", "hibernate", created.id, ...remote]);
      assert.deepEqual(
        [hibernated.code, hibernated.stdout],
        [0, `hibernated ${created.id}\n`],
        hibernated.stderr,
      );
      const woken = await cliJson<SessionJson>(["sessions", "wake", created.id, ...remote]);
      assert.equal(woken.hibernated, false);

      const imported = await cliJson<SessionJson>([
        "sessions",
        "import",
        file,
        "--url",
        other.url,
        "--token-file",
        tokenFile,
      ]);
      assert.deepEqual([imported.id, imported.name], [created.id, "round trip"]);
      assert.equal((await other.system.getSession(created.id))?.name, "round trip");
    },
  );

  it("prints an aligned table without colour when stdout is not a terminal", TEST_TIMEOUT, async () => {
    const created = await cliJson<SessionJson>(["sessions", "create", "--name", "tabled", ...remote]);
    const run = await cli(["sessions", "list", ...remote]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stdout.includes("\x1b["), run.stdout);
    const lines = run.stdout.trimEnd().split("\n");
    assert.match(lines[0] as string, /^ID\s+NAME\s+STATUS\s+RESTARTS\s+CREATED \(UTC\)$/);
    const row = lines.find((line) => line.startsWith(created.id)) as string;
    assert.match(row, /^session_\S+ {2}tabled\s+active\s+0\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    // Aligned: every row's status starts in the header's STATUS column.
    assert.equal(row.indexOf("active"), (lines[0] as string).indexOf("STATUS"));
  });

  it("takes the token from SESSIONVISOR_TOKEN", TEST_TIMEOUT, async () => {
    const run = await cli(["sessions", "list", "--url", server.url], {
      env: envWith({ SESSIONVISOR_TOKEN: token }),
    });
    assert.equal(run.code, 0, run.stderr);
  });

  it("without a token prints error: unauthorized and exits 1", TEST_TIMEOUT, async () => {
    const run = await cli(["sessions", "list", "--url", server.url]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: unauthorized: .+\n$/);
    assert.equal(run.stdout, "");
  });

  it("a malformed session id prints error: invalid_session_id and exits 1", TEST_TIMEOUT, async () => {
    const run = await cli(["sessions", "show", "not-a-session", ...remote]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: invalid_session_id: .*not-a-session.*\n$/);
  });

  it("an unknown session prints error: session_not_found and exits 1", TEST_TIMEOUT, async () => {
    const run = await cli([
      "sessions",
      "terminate",
      "session_00000000-0000-4000-8000-000000000000",
      ...remote,
    ]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: session_not_found: /);
  });

  it("a server that is not there prints error: unreachable and exits 1", TEST_TIMEOUT, async () => {
    const run = await cli(["sessions", "list", "--url", `http://127.0.0.1:${await closedPort()}`]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: unreachable: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\n$/);
  });

  it("a missing --token-file exits 2 with one line", TEST_TIMEOUT, async () => {
    const run = await cli(["sessions", "list", "--url", server.url, "--token-file", join(tempDir(), "none")]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^sessionvisor sessions list: cannot read --token-file .*: ENOENT\n$/);
  });

  it("tree over --url shows a session's supervisor with its two agents", TEST_TIMEOUT, async () => {
    const { id } = await cliJson<SessionJson>(["sessions", "create", ...remote]);
    const run = await cli(["tree", ...remote]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split("\n");
    assert.match(lines[0] as string, /^root supervisor <[^>]+>$/);
    const at = lines.findIndex((line) => line.includes(`${id} supervisor`));
    assert.ok(at > 0, run.stdout);
    assert.match(lines[at + 1] as string, /── context_manager worker <[^>]+> \[context_manager:session_/);
    assert.match(lines[at + 2] as string, /└── llm_orchestrator worker <[^>]+> \[llm_orchestrator:session_/);
  });

  it("doctor --url passes against a ready server", TEST_TIMEOUT, async () => {
    const report = await cliJson<{ ok: boolean; checks: { name: string; ok: boolean }[] }>([
      "doctor",
      "--url",
      server.url,
      "--data-dir",
      tempDir(),
    ]);
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.checks.find((c) => c.name === "server"),
      { name: "server", ok: true, required: true, detail: `${server.url}/readyz answered 200 (ready)` },
    );
  });
});

describe("sessionvisor sessions with --data-dir (embedded)", () => {
  it(
    "creates, lists, shows, exports, terminates, restores, and imports into another directory",
    TEST_TIMEOUT,
    async () => {
      const local = ["--data-dir", join(tempDir(), "data")];
      const created = await cliJson<SessionJson>(["sessions", "create", "--name", "local", ...local]);
      assert.match(created.id, ID_SHAPE);
      // Another process, the same store: the session was kept.
      const listed = await cliJson<SessionJson[]>(["sessions", "list", ...local]);
      assert.deepEqual(
        listed.map((s) => [s.id, s.name, s.status]),
        [[created.id, "local", "active"]],
      );
      assert.equal((await cliJson<SessionJson>(["sessions", "show", created.id, ...local])).name, "local");

      const exported = await cli(["sessions", "export", created.id, ...local]);
      assert.equal(exported.code, 0, exported.stderr);
      assert.equal((JSON.parse(exported.stdout) as { session: { id: string } }).session.id, created.id);

      assert.equal((await cli(["sessions", "terminate", created.id, ...local])).code, 0);
      assert.deepEqual(await cliJson<SessionJson[]>(["sessions", "list", ...local]), []);
      assert.equal(
        (await cliJson<SessionJson>(["sessions", "restore", created.id, ...local])).status,
        "active",
      );

      // The document from stdin (`-`) into another directory.
      const elsewhere = ["--data-dir", join(tempDir(), "elsewhere")];
      const imported = await cli(["sessions", "import", "-", "--json", ...elsewhere], {
        input: exported.stdout,
      });
      assert.equal(imported.code, 0, imported.stderr);
      assert.equal((JSON.parse(imported.stdout) as SessionJson).id, created.id);
    },
  );

  it("a malformed session id prints error: invalid_session_id and exits 1", TEST_TIMEOUT, async () => {
    const run = await cli(["sessions", "show", "nope", "--data-dir", join(tempDir(), "data")]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: invalid_session_id: /);
  });

  it("a data directory that is a file exits 2 naming it", TEST_TIMEOUT, async () => {
    const file = join(tempDir(), "a-file");
    writeFileSync(file, "");
    const run = await cli(["sessions", "list", "--data-dir", file]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^sessionvisor sessions list: --data-dir: cannot use .*a-file/);
  });
});

/** A --require script under which `require("better-sqlite3")` fails as when it is not installed. */
function withoutSqlite(): string[] {
  const file = join(tempDir(), "no-sqlite.cjs");
  writeFileSync(
    file,
    `const Module = require("node:module");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === "better-sqlite3") {
    const error = new Error("Cannot find module 'better-sqlite3'\\nRequire stack:\\n- somewhere");
    error.code = "MODULE_NOT_FOUND";
    throw error;
  }
  return resolve.call(this, request, ...rest);
};
`,
  );
  return ["--require", file];
}

describe("without better-sqlite3", () => {
  it("--data-dir prints one line, error: sqlite_driver_missing, and exits 1", TEST_TIMEOUT, async () => {
    const run = await cli(["sessions", "list", "--data-dir", join(tempDir(), "data")], {
      nodeArgs: withoutSqlite(),
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: sqlite_driver_missing: .*npm install better-sqlite3.*\n$/);
  });

  it("doctor fails its sqlite check and exits 1", TEST_TIMEOUT, async () => {
    const run = await cli(["doctor"], { nodeArgs: withoutSqlite() });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^✗ sqlite: the SQLite session store needs the package better-sqlite3/m);
  });
});

describe("bad flags", () => {
  for (const [what, args] of [
    ["an unknown option", ["sessions", "list", "--bogus"]],
    ["a missing id", ["sessions", "show"]],
    ["--url that is not an address", ["sessions", "list", "--url", "localhost:8787"]],
    ["--url with --data-dir", ["sessions", "list", "--url", "http://127.0.0.1:1", "--data-dir", "x"]],
    ["an unknown --status", ["sessions", "list", "--status", "asleep"]],
    ["an unknown subcommand", ["sessions", "frobnicate"]],
    ["doctor --url that is not an address", ["doctor", "--url", "127.0.0.1:8787"]],
  ] as const) {
    it(`${what} exits 2`, TEST_TIMEOUT, async () => {
      const run = await cli([...args]);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, "");
      assert.notEqual(run.stderr, "");
    });
  }
});

describe("sessionvisor tree (embedded)", () => {
  it("shows a session's supervisor with its two agents", TEST_TIMEOUT, async () => {
    const local = ["--data-dir", join(tempDir(), "data")];
    const { id } = await cliJson<SessionJson>(["sessions", "create", ...local]);
    const run = await cli(["tree", ...local]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split("\n");
    assert.match(lines[0] as string, /^root supervisor <[^>]+>$/);
    const at = lines.findIndex((line) => line.includes(`${id} supervisor`));
    assert.ok(at > 0, run.stdout);
    assert.match(
      lines[at] as string,
      /^│ {3}└── session_\S+ supervisor <[^>]+> \[session_supervisor:session_\S+\] inline$/,
    );
    assert.match(
      lines[at + 1] as string,
      /^│ {7}├── context_manager worker <[^>]+> \[context_manager:session_/,
    );
    assert.match(
      lines[at + 2] as string,
      /^│ {7}└── llm_orchestrator worker <[^>]+> \[llm_orchestrator:session_/,
    );
  });

  it("--json gives { root } with the session's node and its agents", TEST_TIMEOUT, async () => {
    const local = ["--data-dir", join(tempDir(), "data")];
    const { id } = await cliJson<SessionJson>(["sessions", "create", ...local]);
    interface Node {
      id: string;
      type: string;
      sessionId?: string;
      isolation?: string;
      restarts?: number;
      children?: Node[];
    }
    const { root } = await cliJson<{ root: Node }>(["tree", ...local]);
    const sessions = root.children?.find((c) => c.id === "sessions_supervisor");
    const session = sessions?.children?.find((c) => c.sessionId === id);
    assert.deepEqual([session?.type, session?.isolation, session?.restarts], ["supervisor", "inline", 0]);
    assert.deepEqual(
      session?.children?.map((c) => [c.id, c.type]),
      [
        ["context_manager", "worker"],
        ["llm_orchestrator", "worker"],
      ],
    );
  });

  it("--watch redraws until SIGINT, then exits 0", TEST_TIMEOUT, async () => {
    const child = spawn(
      process.execPath,
      [...CLI, "tree", "--watch", "--data-dir", join(tempDir(), "data")],
      {
        env: envWith(),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    children.add(child);
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const deadline = Date.now() + 20_000;
    while ((stdout.match(/^root supervisor /gm) ?? []).length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok((stdout.match(/^root supervisor /gm) ?? []).length >= 2, stdout);
    child.kill("SIGINT");
    assert.equal(await exited, 0);
  });
});

const hasScript = spawnSync("script", ["--version"]).status === 0;
const NO_PTY = "util-linux 'script' is not installed, so no pseudo-terminal can be allocated";

describe("on a terminal", { skip: hasScript ? false : NO_PTY }, () => {
  /**
   * Runs the command in a pseudo-terminal (util-linux `script`); what it printed, escapes kept.
   * Killed after `ms`, or as soon as what it printed satisfies `enough`.
   */
  function onTerminal(args: string[], ms: number, enough?: (screen: string) => boolean): Promise<string> {
    const command = [process.execPath, ...CLI, ...args].join(" ");
    const child = spawn("script", ["-q", "-e", "-c", command, "/dev/null"], {
      env: envWith({ TERM: "xterm" }),
      stdio: ["pipe", "pipe", "pipe"],
    });
    children.add(child);
    let screen = "";
    child.stdout.on("data", (chunk) => {
      screen += chunk;
      if (enough?.(screen)) child.kill("SIGKILL");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    return new Promise((resolve) =>
      child.once("close", () => {
        clearTimeout(timer);
        resolve(screen);
      }),
    );
  }

  it("sessions list colours the header and the status", TEST_TIMEOUT, async () => {
    const local = ["--data-dir", join(tempDir(), "data")];
    await cliJson<SessionJson>(["sessions", "create", ...local]);
    const screen = await onTerminal(["sessions", "list", ...local], 30_000);
    assert.ok(screen.includes("\x1b[1mID "), screen);
    assert.ok(screen.includes("\x1b[32mactive\x1b[39m"), screen);
  });

  it("tree --watch clears the screen before each drawing", TEST_TIMEOUT, async () => {
    // Two drawings, however long a loaded machine takes to start the command (up to 30 s).
    const clears = (screen: string) => screen.split("\x1b[H\x1b[2J").length - 1;
    const screen = await onTerminal(
      ["tree", "--watch", "--data-dir", join(tempDir(), "data")],
      30_000,
      (shown) => clears(shown) >= 2,
    );
    assert.ok(clears(screen) >= 2, screen);
  });
});

describe("sessionvisor doctor", () => {
  it("passes on this machine: exit 0, one ✓ line for each required check", TEST_TIMEOUT, async () => {
    const run = await cli(["doctor", "--data-dir", join(tempDir(), "data")]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    for (const name of ["node", "sqlite", "data directory"]) {
      assert.match(run.stdout, new RegExp(`^✓ ${name}: `, "m"));
    }
  });

  it("never prints an API key, only whether it is set", TEST_TIMEOUT, async () => {
    const secret = "sk-doctor-should-never-print-this";
    const run = await cli(["doctor", "--json"], { env: envWith({ ANTHROPIC_API_KEY: secret }) });
    assert.doesNotMatch(run.stdout + run.stderr, new RegExp(secret));
    const report = JSON.parse(run.stdout) as { checks: { name: string; ok: boolean; detail: string }[] };
    assert.deepEqual(
      report.checks.find((c) => c.name === "anthropic key"),
      { name: "anthropic key", ok: true, required: false, detail: "ANTHROPIC_API_KEY is set" },
    );
  });

  it("fails (exit 1) when no server answers at --url", TEST_TIMEOUT, async () => {
    const run = await cli(["doctor", "--url", `http://127.0.0.1:${await closedPort()}`]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^✗ server: cannot reach .*ECONNREFUSED$/m);
  });
});

describe("--version and --help on every command", () => {
  for (const command of [["sessions"], ["sessions", "list"], ["tree"], ["doctor"]]) {
    it(`${command.join(" ")} --version prints the version and exits 0`, TEST_TIMEOUT, async () => {
      const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
      const run = await cli([...command, "--version"]);
      assert.deepEqual([run.code, run.stdout], [0, `${version}\n`]);
    });
  }

  it("sessions --help lists the subcommands", TEST_TIMEOUT, async () => {
    const run = await cli(["sessions", "--help"]);
    assert.equal(run.code, 0);
    for (const name of ["list", "create", "show", "terminate", "restore", "export", "import"]) {
      assert.match(run.stdout, new RegExp(`^ {2}${name}\\b`, "m"));
    }
  });
});
