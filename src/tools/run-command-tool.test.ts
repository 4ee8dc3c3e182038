import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type ProjectFixture, processGone, projectFixture } from "../../test/support/project-fixture.js";
import {
  builtinToolSet,
  type RunCommandResult,
  runCommand,
  scrubEnvironment,
  ToolAbortedError,
  type ToolContext,
} from "../index.js";

const tools = builtinToolSet();

describe("run_command", () => {
  let fx: ProjectFixture;
  // Every pid a test learns of is killed in teardown, even if its assertions failed first.
  const started: number[] = [];
  beforeEach(async () => {
    fx = await projectFixture({ "sub/file.txt": "hi\n" });
  });
  afterEach(() => {
    for (const pid of started.splice(0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    fx.remove();
  });

  const run = (input: unknown, context: ToolContext = fx.context()) =>
    tools.execute({ name: "run_command", input }, context) as Promise<RunCommandResult>;

  /** The pid a command printed first on its stdout (e.g. `sleep 30 & echo $!`). */
  const pidFrom = (stdout: string) => {
    const pid = Number(stdout.split("\n")[0]);
    started.push(pid);
    return pid;
  };

  it("runs in the project directory and returns exit code and output", async () => {
    const result = await run({ command: "pwd; echo oops >&2; exit 3" });
    assert.deepEqual(
      [result.exitCode, result.signal, result.stdout, result.stderr, result.timedOut],
      [3, null, `${fx.root}\n`, "oops\n", false],
    );
  });

  it("runs in a subdirectory given as cwd", async () => {
    assert.equal((await run({ command: "cat file.txt", cwd: "sub" })).stdout, "hi\n");
  });

  it("refuses a cwd outside the project", async () => {
    await assert.rejects(run({ command: "ls", cwd: ".." }), /outside the project/);
  });

  it("kills the whole process group on timeout, a grandchild sleep included", async () => {
    const context = fx.context({ limits: { commandTimeoutMs: 1500, killGraceMs: 500 } });
    const result = await run({ command: "sleep 30 & echo $!; sleep 30" }, context);
    const grandchild = pidFrom(result.stdout);
    assert.ok(grandchild > 0, `no pid printed before the timeout: ${JSON.stringify(result.stdout)}`);
    assert.equal(result.timedOut, true);
    assert.equal(result.signal, "SIGTERM");
    assert.ok(processGone(grandchild), `sleep ${grandchild} is still running`);
  });

  it("kills with SIGKILL a command that ignores SIGTERM, after the grace period", async () => {
    const controller = new AbortController();
    const running = runCommand({
      command: "trap '' TERM; echo $$ > shell.pid; while :; do sleep 0.05; done",
      cwd: fx.root,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      timeoutMs: 60_000,
      maxOutputBytes: 1000,
      killGraceMs: 300,
      signal: controller.signal,
    });
    // Stop it only once the trap is set, however slow the shell is to start.
    while (!fx.names().includes("shell.pid") || fx.read("shell.pid") === "") await sleep(20);
    started.push(Number(fx.read("shell.pid")));
    controller.abort();
    const outcome = await running;
    assert.deepEqual([outcome.aborted, outcome.signal], [true, "SIGKILL"]);
    assert.ok(processGone(Number(fx.read("shell.pid"))));
  });

  it("stops what a finished command left running in the background", async () => {
    const result = await run({ command: "sleep 30 >/dev/null 2>&1 & echo $!" });
    const background = pidFrom(result.stdout);
    assert.equal(result.exitCode, 0);
    assert.ok(processGone(background), `sleep ${background} outlived its command`);
  });

  it("kills the whole process group when the signal fires, and says it was cancelled", async () => {
    const controller = new AbortController();
    const context = fx.context({ signal: controller.signal, limits: { killGraceMs: 500 } });
    fx.write("pid-wait.sh", "sleep 30 & echo $! > grandchild.pid; wait\n");
    const running = run({ command: "sh pid-wait.sh" }, context);
    while (!fx.names().includes("grandchild.pid") || fx.read("grandchild.pid") === "") await sleep(20);
    const grandchild = Number(fx.read("grandchild.pid"));
    started.push(grandchild);
    controller.abort();
    await assert.rejects(running, ToolAbortedError);
    assert.ok(processGone(grandchild), `sleep ${grandchild} survived the cancel`);
  });

  it("caps stdout, keeping its start and end with a marker between", async () => {
    const context = fx.context({ limits: { maxCommandOutputBytes: 100 } });
    const result = await run({ command: "seq 1 10000" }, context);
    assert.equal(result.stdoutTruncated, true);
    assert.match(
      result.stdout,
      /^1\n2\n[\s\S]*\[… \d+ bytes of output omitted \(48894 in all\) …\]\n[\s\S]*9999\n10000\n$/,
    );
  });

  it("does not pass a secret variable of the parent to the command", async () => {
    process.env.FOO_API_KEY = "sk-do-not-leak";
    process.env.FOO_PLAIN = "visible";
    try {
      const result = await run({
        command: 'echo "key=$FOO_API_KEY plain=$FOO_PLAIN"; env | grep -c sk-do-not-leak',
      });
      assert.equal(result.stdout, "key= plain=visible\n0\n");
    } finally {
      delete process.env.FOO_API_KEY;
      delete process.env.FOO_PLAIN;
    }
  });

  it("gets no standard input (a command reading it sees end of file)", async () => {
    assert.equal((await run({ command: "cat; echo done" })).stdout, "done\n");
  });
});

describe("scrubEnvironment", () => {
  it("drops secret-looking names and key-looking values, and keeps the rest", () => {
    const env = scrubEnvironment({
      PATH: "/bin",
      HOME: "/root",
      LANG: "C.UTF-8",
      GIT_AUTHOR_NAME: "me",
      GITHUB_TOKEN: "t",
      AWS_SECRET_ACCESS_KEY: "s",
      DB_PASSWORD: "p",
      SSH_AUTH_SOCK: "/tmp/agent",
      ANTHROPIC_API_KEY: "k",
      INNOCENT: "ghp_abcdef",
    });
    assert.deepEqual(env, { PATH: "/bin", HOME: "/root", LANG: "C.UTF-8", GIT_AUTHOR_NAME: "me" });
  });
});
