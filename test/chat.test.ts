import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

const hasScript = spawnSync("script", ["--version"]).status === 0;
const NO_PTY = "util-linux 'script' is not installed, so no pseudo-terminal can be allocated for the chat";

const ESCAPE_SEQUENCE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g");

/** Runs `sessionvisor chat` in a real pseudo-terminal and types into it as a person would. */
class Terminal {
  private readonly child: ChildProcessWithoutNullStreams;
  private screen = "";

  constructor() {
    const command = `${process.execPath} --import tsx src/cli/main.ts chat --delay 1`;
    this.child = spawn("script", ["-q", "-e", "-c", command, "/dev/null"], {
      env: { ...process.env, TERM: "xterm", COLUMNS: "200" },
    });
    this.child.stdout.on("data", (chunk: Buffer) => {
      // Strip the terminal's escape sequences: what is left is what a person reads.
      this.screen += chunk.toString("utf8").replace(ESCAPE_SEQUENCE, "").replace(/\r/g, "");
    });
  }

  type(line: string): void {
    this.child.stdin.write(`${line}\r`);
  }

  async waitFor(pattern: RegExp, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!pattern.test(this.screen)) {
      if (Date.now() > deadline) throw new Error(`screen never showed ${pattern}; it shows:\n${this.screen}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.screen;
  }

  async quit(): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => this.child.on("exit", resolve));
    this.type("/quit");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}

describe("sessionvisor chat in a terminal", () => {
  it("streams the reply to a typed message", { skip: hasScript ? false : NO_PTY }, async () => {
    const term = new Terminal();
    await term.waitFor(/\[1\]> $/);
    term.type("hello from a person");
    await term.waitFor(/You said: "hello from a person"\..*deterministic\.\n\[1\]> /s);
    assert.equal(await term.quit(), 0);
  });

  it("opens a second session, kills its supervisor, shows it recover, and keeps both working", {
    skip: hasScript ? false : NO_PTY,
  }, async () => {
    const term = new Terminal();
    await term.waitFor(/\[1\]> $/);
    term.type("/new second");
    await term.waitFor(/opened session 2/);
    term.type("/kill");
    await term.waitFor(/session 2: recovering -> active/);
    term.type("/list");
    const screen = await term.waitFor(/\* 2 +second +active \(restarts: 1\)/);
    assert.match(screen, / 1 +first +active/);
    term.type("echo after the kill");
    await term.waitFor(/echo after the kill\nafter the kill\n\[2\]> /);
    term.type("/switch 1");
    await term.waitFor(/switched to session 1\n\[1\]> $/);
    term.type("echo first still here");
    await term.waitFor(/echo first still here\nfirst still here\n\[1\]> /);
    assert.equal(await term.quit(), 0);
  });
});

describe("sessionvisor chat --store", () => {
  it("brings the sessions and their conversation back on the next start", () => {
    const dir = mkdtempSync(join(tmpdir(), "sessionvisor-chat-"));
    try {
      const store = join(dir, "chat.db");
      const run = (input: string) =>
        spawnSync(
          process.execPath,
          ["--import", "tsx", "src/cli/main.ts", "chat", "--delay", "0", "--store", store],
          {
            input,
            encoding: "utf8",
            timeout: 30_000,
          },
        );
      assert.equal(run("echo remember me\n/quit\n").status, 0);
      const second = run("/history\n/quit\n");
      assert.equal(second.status, 0);
      assert.match(second.stdout, /1 session\(s\) back from .*chat\.db/);
      assert.match(second.stdout, /user: echo remember me\nassistant: remember me\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
