import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { ChatUsageError, chatSettings } from "../src/cli/chat-flags.js";
import { type SessionConfig, SessionSystem, silentLogger } from "../src/index.js";
import { startModelServer } from "./support/model-server.js";
import { ESCAPE_SEQUENCE, StreamChat } from "./support/stream-chat.js";

const hasScript = spawnSync("script", ["--version"]).status === 0;
const NO_PTY = "util-linux 'script' is not installed, so no pseudo-terminal can be allocated for the chat";

/** Runs `sessionvisor chat` in a real pseudo-terminal and types into it as a person would. */
class Terminal {
  private readonly child: ChildProcessWithoutNullStreams;
  private screen = "";

  constructor(flags = "--delay 1") {
    const command = `${process.execPath} --import tsx src/cli/main.ts chat ${flags}`;
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

  /** Ctrl-C, as the terminal sends it. */
  interrupt(): void {
    this.child.stdin.write("\x03");
  }

  /** The exit code, or null if the chat is still running after `ms` (it is then killed). */
  async exited(ms = 10_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) =>
      this.child.on("exit", (code) => resolve(code ?? -1)),
    );
    const timer = setTimeout(() => this.child.kill("SIGKILL"), ms);
    const code = await exited;
    clearTimeout(timer);
    return code === -1 ? null : code;
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

const T = { timeout: 30_000 };
const CLI = ["--import", "tsx", "src/cli/main.ts", "chat"];
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-chat-"));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** Runs the real binary to its end with `input` piped in and the environment given. */
function runChat(flags: string[], input = "/quit\n", env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [...CLI, ...flags], { input, encoding: "utf8", timeout: 30_000, env });
}

/** runChat without blocking this process (whose servers the chat may talk to). */
async function runChatAsync(
  flags: string[],
  input: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...CLI, ...flags], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  child.stdin.end(input);
  const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  clearTimeout(timer);
  return { status, stdout, stderr };
}

describe("chat flags", () => {
  it("turn into the sessions' llm, projectPath and tool approval", () => {
    const dir = tempDir();
    const settings = chatSettings(
      {
        provider: "openai-compatible",
        model: "qwen3",
        baseUrl: "http://127.0.0.1:11434/v1",
        project: ".",
        approve: "write=ask,command=deny",
      },
      {},
      dir,
    );
    assert.deepEqual(settings.session, {
      llm: { provider: "openai-compatible", model: "qwen3", baseURL: "http://127.0.0.1:11434/v1" },
      projectPath: dir,
      tools: { approval: { write: "ask", command: "deny" } },
    });
  });

  it("--approve with one policy sets it for file changes and commands alike", () => {
    assert.deepEqual(chatSettings({ approve: "ask" }).session.tools, {
      approval: { write: "ask", command: "ask" },
    });
  });

  it("refuses a remote provider without its API key, naming the variable", () => {
    assert.throws(
      () => chatSettings({ provider: "anthropic", model: "claude-x" }, {}),
      (error: unknown) => error instanceof ChatUsageError && /set ANTHROPIC_API_KEY$/.test(error.message),
    );
    assert.equal(
      chatSettings({ provider: "anthropic", model: "claude-x" }, { ANTHROPIC_API_KEY: "k" }).session.llm
        ?.provider,
      "anthropic",
    );
  });

  it("reach the session the binary opens", T, async () => {
    const dir = tempDir();
    const project = join(dir, "project");
    mkdirSync(project);
    const store = join(dir, "chat.db");
    const run = runChat([
      "--store",
      store,
      "--provider",
      "openai-compatible",
      "--model",
      "local-model",
      "--base-url",
      "http://127.0.0.1:9/v1",
      "--project",
      project,
      "--approve",
      "deny",
    ]);
    assert.equal(run.status, 0, run.stderr);
    const system = await SessionSystem.start({ logger: silentLogger(), storePath: store });
    try {
      const [info] = await system.listSessions();
      assert.ok(info);
      const config = (await system.exportSession(info.id)).session.config as SessionConfig;
      assert.equal(config.projectPath, project);
      assert.deepEqual(
        { provider: config.llm.provider, model: config.llm.model, baseURL: config.llm.baseURL },
        { provider: "openai-compatible", model: "local-model", baseURL: "http://127.0.0.1:9/v1" },
      );
      assert.deepEqual(config.tools.approval, { write: "deny", command: "deny" });
    } finally {
      await system.stop();
    }
  });

  const missing = join(tmpdir(), "sessionvisor-chat-no-such-dir");
  const withoutKeys = { ...process.env, OPENAI_API_KEY: "", ANTHROPIC_API_KEY: "" };
  for (const [flags, said, env] of [
    [["--approve", "maybe"], /--approve must be auto, ask or deny/, process.env],
    [
      ["--provider", "gemini"],
      /--provider must be one of offline, openai-compatible, openai, anthropic/,
      process.env,
    ],
    [["--project", missing], /--project .*no-such-dir does not exist/, process.env],
    [["--provider", "openai", "--model", "gpt-x"], /needs an API key: set OPENAI_API_KEY/, withoutKeys],
    [["--base-url", "ftp://x"], /--base-url must be an http or https URL/, process.env],
    [
      ["--store", join(missing, "chat.db")],
      /--store .*: the directory .*no-such-dir does not exist/,
      process.env,
    ],
    [["--delay", "soon"], /--delay must be a whole number/, process.env],
    [["--no-such-flag"], /unknown option '--no-such-flag'/, process.env],
  ] as const) {
    it(`${flags.join(" ")}: exits 2 with one line`, T, () => {
      const run = runChat([...flags], "/quit\n", env);
      assert.equal(run.status, 2);
      assert.equal(run.stdout, "");
      assert.match(run.stderr, said);
      assert.equal(run.stderr.trimEnd().split("\n").length, 1, run.stderr);
    });
  }
});

describe("chat turns", () => {
  it("Ctrl-C cancels a slow streaming reply, and the session answers the next message", T, async () => {
    const chat = new StreamChat({ streamDelayMs: 20 });
    try {
      await chat.waitFor(/\[1\]> $/);
      chat.type("repeat 1000 word");
      await chat.waitFor(/(word ){5}/);
      chat.interrupt();
      await chat.waitFor(/\n\(cancelled\)\n\[1\]> $/);
      const from = chat.mark();
      // The cancelled reply had ~20 s to go: this answer comes only if it really stopped.
      chat.type("echo still here");
      await chat.waitFor(/\nstill here\n\[1\]> $/, from, 3000);
      const history = chat.mark();
      chat.type("/history");
      await chat.waitFor(/user: repeat 1000 word \(cancelled\)\n/, history);
    } finally {
      await chat.close();
    }
  });

  it("Ctrl-C at the prompt ends run()", T, async () => {
    const chat = new StreamChat();
    await chat.waitFor(/\[1\]> $/);
    chat.interrupt();
    await chat.running;
    await chat.waitFor(/bye\.\n$/);
  });

  it("a second Ctrl-C within the window quits while a reply streams", T, async () => {
    const chat = new StreamChat({ streamDelayMs: 20, doubleInterruptMs: 60_000 });
    await chat.waitFor(/\[1\]> $/);
    chat.type("repeat 1000 word");
    await chat.waitFor(/(word ){3}/);
    chat.interrupt();
    await chat.waitFor(/\(cancelled\)/);
    chat.type("repeat 1000 again");
    await chat.waitFor(/(again ){3}/);
    chat.interrupt();
    await chat.running;
    await chat.waitFor(/bye\.\n$/);
  });

  it("/kill acts while a reply streams", T, async () => {
    const chat = new StreamChat({ streamDelayMs: 20 });
    try {
      await chat.waitFor(/\[1\]> $/);
      chat.type("repeat 1000 word");
      await chat.waitFor(/(word ){3}/);
      const from = chat.mark();
      chat.type("/kill");
      await chat.waitFor(/killing supervisor/, from, 3000);
      await chat.waitFor(/session 1: recovering -> active/, from);
    } finally {
      await chat.close();
    }
  });
});

describe("chat screen", () => {
  it("draws the prompt again, with what was typed, after a session's event line", T, async () => {
    const chat = new StreamChat();
    try {
      await chat.waitFor(/\[1\]> $/);
      chat.type("/kill");
      chat.input.write("ech");
      await chat.waitFor(/recovering -> active\]\n\[1\]> ech$/);
    } finally {
      await chat.close();
    }
  });
});

describe("chat tools", () => {
  it("shows the tool call of a reply and sums up its result", T, async () => {
    const project = tempDir({ "README.md": "hello from the readme\n" });
    const chat = new StreamChat({ session: { projectPath: project } });
    try {
      await chat.waitFor(/\[1\]> $/);
      chat.type("tool read_file README.md");
      await chat.waitFor(/→ read_file README\.md\n✓ read_file \(22 B\)\n/);
    } finally {
      await chat.close();
    }
  });

  it("prints the diff of a file it writes", T, async () => {
    const project = tempDir();
    const chat = new StreamChat({
      session: { projectPath: project, tools: { approval: { write: "auto" } } },
    });
    try {
      await chat.waitFor(/\[1\]> $/);
      chat.type('tool write_file {"path": "notes.txt", "content": "first line\\n"}');
      await chat.waitFor(
        /✓ write_file \(\+1 −0\)\n--- \/dev\/null\n\+\+\+ b\/notes\.txt\n@@ .* @@\n\+first line\n/,
      );
    } finally {
      await chat.close();
    }
  });

  for (const [answer, shown] of [
    ["y", /✓ run_command \(exit 0/],
    ["n", /✗ run_command: denied/],
  ] as const) {
    it(`asks before a command in ask mode, and runs it only on y (answered ${answer})`, T, async () => {
      const project = tempDir();
      const chat = new StreamChat({
        session: { projectPath: project, tools: { approval: { command: "ask" } } },
      });
      try {
        await chat.waitFor(/\[1\]> $/);
        chat.type("tool run_command echo approved-run");
        await chat.waitFor(/Allow run_command "echo approved-run"\? \[y\/N\] $/);
        chat.type(answer);
        await chat.waitFor(shown);
        await chat.waitFor(/\[1\]> $/);
      } finally {
        await chat.close();
      }
    });
  }
});

describe("chat approvals", () => {
  it("Ctrl-C at an approval question cancels the reply and stops asking", T, async () => {
    const project = tempDir();
    const chat = new StreamChat({
      session: { projectPath: project, tools: { approval: { command: "ask" } } },
    });
    try {
      await chat.waitFor(/\[1\]> $/);
      chat.type("tool run_command echo never");
      await chat.waitFor(/\[y\/N\] $/);
      chat.interrupt();
      await chat.waitFor(/\(cancelled\)\n\[1\]> $/);
      const from = chat.mark();
      // Were the question still open, this line would answer it instead of being sent.
      chat.type("echo the session goes on");
      await chat.waitFor(/\nthe session goes on\n\[1\]> $/, from);
      assert.doesNotMatch(chat.since(from), /run_command|Allow/);
    } finally {
      await chat.close();
    }
  });

  it("answers a question with a line typed ahead of it", T, async () => {
    const project = tempDir();
    const chat = new StreamChat({
      session: { projectPath: project, tools: { approval: { command: "ask" } } },
      terminal: false,
    });
    try {
      chat.input.write("tool run_command echo typed-ahead\ny\n");
      await chat.waitFor(/Allow run_command "echo typed-ahead"\? \[y\/N\] y\n✓ run_command \(exit 0/);
    } finally {
      await chat.close();
    }
  });
});

describe("chat with a remote model", () => {
  it("talks to the openai-compatible server --base-url names, with the --model given", T, async () => {
    const server = await startModelServer();
    try {
      const run = await runChatAsync(
        [
          "--provider",
          "openai-compatible",
          "--model",
          "chat-test-model",
          "--base-url",
          `${server.url}/ok/v1`,
        ],
        "hello over http\n/quit\n",
      );
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /Supervisors restart what fails\.\n/);
      assert.equal(server.requests[0]?.body.model, "chat-test-model");
    } finally {
      await server.close();
    }
  });

  it("Ctrl-C closes the model's HTTP request", T, async () => {
    const server = await startModelServer({ stallMs: 20_000 });
    const chat = new StreamChat({
      session: { llm: { provider: "openai-compatible", model: "m", baseURL: `${server.url}/stall/v1` } },
    });
    try {
      await chat.waitFor(/\[1\]> $/);
      chat.type("say something slowly");
      await chat.waitFor(/Supervisors restart/);
      chat.interrupt();
      await chat.waitFor(/\(cancelled\)\n\[1\]> $/);
      const deadline = Date.now() + 5000;
      while (server.closedEarly() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(server.closedEarly(), 1);
    } finally {
      await chat.close();
      await server.close();
    }
  });
});

describe("sessionvisor chat exits", () => {
  /** Types `lines` then /quit, leaving the input open: the chat must end by itself. */
  async function quitWithInputOpen(flags: string[], lines: string[], shown: RegExp): Promise<void> {
    const child = spawn(process.execPath, [...CLI, ...flags], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    try {
      while (!/\[1\]> /.test(out)) await new Promise((resolve) => setTimeout(resolve, 20));
      for (const line of lines) child.stdin.write(`${line}\n`);
      child.stdin.write("/quit\n");
      const code = await Promise.race([
        exited,
        new Promise((resolve) => setTimeout(resolve, 5000, "still running")),
      ]);
      assert.equal(code, 0);
      assert.match(out, shown);
      assert.match(out, /bye\.\n$/);
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
  }

  it("after /quit, with its input still open", T, async () => {
    await quitWithInputOpen(["--delay", "0"], [], /opened session 1/);
  });

  it("after /quit, with its input still open, once it talked to a remote model", T, async () => {
    const server = await startModelServer();
    try {
      const flags = ["--provider", "openai-compatible", "--model", "m", "--base-url", `${server.url}/ok/v1`];
      await quitWithInputOpen(flags, ["hello"], /Supervisors restart what fails\./);
    } finally {
      await server.close();
    }
  });

  it("on Ctrl-C at the prompt, in a terminal", { ...T, skip: hasScript ? false : NO_PTY }, async () => {
    const term = new Terminal();
    await term.waitFor(/\[1\]> $/);
    term.interrupt();
    assert.equal(await term.exited(), 0);
    await term.waitFor(/bye\.\n$/);
  });

  it("on a second Ctrl-C within 2 s of one that cancelled a reply, in a terminal", {
    ...T,
    skip: hasScript ? false : NO_PTY,
  }, async () => {
    const term = new Terminal("--delay 20");
    await term.waitFor(/\[1\]> $/);
    term.type("repeat 1000 word");
    await term.waitFor(/(word ){3}/);
    term.interrupt();
    await term.waitFor(/\(cancelled\)/);
    term.interrupt();
    assert.equal(await term.exited(), 0);
  });
});
