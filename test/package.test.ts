// The package as a user gets it: built, packed with `npm pack`, installed from the tarball into a
// scratch project, then imported from ESM, required from CommonJS, type-checked by tsc and run as
// the `sessionvisor` binary — all by plain node from the scratch project, none of it from src/.
//
// The build goes into a temporary folder, not dist/: dist/ may be stale (the tests run the
// sources and never build it) or half-written by someone's `npm run build`, and a fresh build is
// ~8 s of the ~30 s this file takes. The install is `npm install <tarball>` as a user runs it;
// it needs the registry's metadata of the package's dependencies, from npm's cache or the
// network. When it can get neither, the tests are skipped saying so (never passed).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { GenServer, type Logger, Runtime, SessionSystem } from "../src/index.js";

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const VITE = join(ROOT, "node_modules", "vite", "bin", "vite.js");
const NPM_FLAGS = ["--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error"];

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (or its timeout), whatever its exit code. */
async function run(file: string, args: string[], cwd: string, timeout = 60_000): Promise<Ran> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, { cwd, timeout, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof failed.code === "number" ? failed.code : -1,
      stdout: failed.stdout ?? "",
      stderr: failed.stderr || failed.message,
    };
  }
}

async function ok(file: string, args: string[], cwd: string, timeout?: number): Promise<string> {
  const ran = await run(file, args, cwd, timeout);
  assert.equal(ran.code, 0, `${[file, ...args].join(" ")} failed:\n${ran.stderr}\n${ran.stdout}`);
  return ran.stdout;
}

const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dependencies: Record<string, string>;
};

const work = mkdtempSync(join(tmpdir(), "sessionvisor-package-"));
const stage = join(work, "stage");
const app = join(work, "app");
/** The files in the tarball, as `npm pack --json` lists them. */
let packed: string[] = [];
/** Why the packed package could not be installed, when it could not. */
let skip: string | false = "the package was not built";

before(
  async () => {
    mkdirSync(stage);
    mkdirSync(app);
    await ok(
      process.execPath,
      [TSC, "-p", "tsconfig.build.json", "--outDir", join(stage, "dist")],
      ROOT,
      120_000,
    );
    await ok(process.execPath, ["scripts/bundle.mjs", join(stage, "dist"), "--package"], ROOT);
    // The observer page, as `npm run build` makes it.
    await ok(
      process.execPath,
      [
        VITE,
        "build",
        "web",
        "--logLevel",
        "warn",
        "--outDir",
        join(stage, "dist", "observer"),
        "--emptyOutDir",
      ],
      ROOT,
      120_000,
    );
    for (const file of ["package.json", "README.md", "LICENSE", "CHANGELOG.md"]) {
      cpSync(join(ROOT, file), join(stage, file));
    }
    const pack = await ok(
      "npm",
      ["pack", "--json", "--ignore-scripts", "--pack-destination", work, ...NPM_FLAGS],
      stage,
    );
    const [info] = JSON.parse(pack) as { filename: string; files: { path: string }[] }[];
    assert.ok(info, pack);
    packed = info.files.map((file) => file.path);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "scratch", version: "1.0.0", private: true }),
    );
    const tarball = join(work, info.filename);
    // From the cache when it has everything; else from the registry.
    const install = await run("npm", ["install", "--prefer-offline", ...NPM_FLAGS, tarball], app, 120_000);
    skip =
      install.code === 0
        ? false
        : `npm could not install the packed tarball (it needs the registry, or npm's cache of it, for the dependencies): ${install.stderr.trim().split("\n").slice(-3).join(" ")}`;
  },
  { timeout: 240_000 },
);

after(() => rmSync(work, { recursive: true, force: true }));

/** Writes `name` into the scratch project and runs it with plain node. */
function script(name: string, text: string, flags: string[] = []): Promise<Ran> {
  writeFileSync(join(app, name), text);
  return run(process.execPath, [...flags, name], app);
}

const T = { timeout: 60_000 };

describe("the packed tarball", T, () => {
  it("ships no source maps and no TypeScript sources", (t) => {
    if (skip) return t.skip(skip);
    assert.deepEqual(
      packed.filter((path) => path.endsWith(".map") || (path.endsWith(".ts") && !path.endsWith(".d.ts"))),
      [],
    );
  });

  it("has every file package.json's bin and exports name", (t) => {
    if (skip) return t.skip(skip);
    const named = [
      ...Object.values(manifest.bin),
      ...Object.values(manifest.exports).flatMap((target) =>
        typeof target === "string" ? [target] : Object.values(target),
      ),
    ].map((path) => path.replace(/^\.\//, ""));
    assert.deepEqual(
      named.filter((path) => !packed.includes(path)),
      [],
    );
  });

  it("exports exactly the subpaths scripts/bundle.mjs bundles", async () => {
    const bundleScript = pathToFileURL(join(ROOT, "scripts", "bundle.mjs")).href;
    const { SUBPATHS } = (await import(bundleScript)) as { SUBPATHS: { name: string }[] };
    assert.deepEqual(
      Object.keys(manifest.exports).sort(),
      [".", "./package.json", ...SUBPATHS.map((subpath) => `./${subpath.name}`)].sort(),
    );
  });

  it("makes better-sqlite3 an optional peer dependency, and no @types/* package a dependency", () => {
    assert.ok(manifest.peerDependencies?.["better-sqlite3"]);
    assert.equal(manifest.peerDependenciesMeta?.["better-sqlite3"]?.optional, true);
    assert.deepEqual(
      Object.keys(manifest.dependencies).filter(
        (name) => name === "better-sqlite3" || name === "@types/better-sqlite3",
      ),
      [],
    );
  });
});

describe("the installed package", T, () => {
  it("installs without better-sqlite3 (no native module)", (t) => {
    if (skip) return t.skip(skip);
    assert.equal(existsSync(join(app, "node_modules", "better-sqlite3")), false);
  });

  it("runs a session from an ES module, quietly, with the in-memory store", async (t) => {
    if (skip) return t.skip(skip);
    const ran = await script(
      "esm.mjs",
      `import { SessionSystem } from "sessionvisor";
const system = await SessionSystem.start();
try {
  const session = await system.createSession({ name: "packed" });
  console.log((await system.sendMessage(session.id, "echo hello from the package")).text);
  // A crash: the library, given no logger, reports it to nobody.
  const back = new Promise((resolve) => system.subscribe(session.id, (e) => e.type === "session_status" && e.status === "active" && resolve()));
  system.runtime.exit(system.findSupervisor(session.id), "kill");
  await back;
} finally {
  await system[Symbol.asyncDispose]();
}
`,
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), "hello from the package");
    assert.equal(ran.stderr, "");
  });

  it("runs a thread-isolated session from the installed package", async (t) => {
    if (skip) return t.skip(skip);
    const ran = await script(
      "thread.mjs",
      `import { SessionSystem } from "sessionvisor";
const system = await SessionSystem.start({ isolation: "thread" });
try {
  const session = await system.createSession({});
  const reply = await system.sendMessage(session.id, "echo hello from a host");
  console.log(system.sessionHost(session.id).isolation, reply.text);
} finally {
  await system.stop();
}
`,
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), "thread hello from a host");
  });

  it("opening an SQLite store without better-sqlite3 throws SqliteDriverMissingError saying what to install", async (t) => {
    if (skip) return t.skip(skip);
    const ran = await script(
      "sqlite.mjs",
      `import { SqliteDriverMissingError, SqliteSessionStore } from "sessionvisor/store";
try {
  SqliteSessionStore.open("sessions.db");
  console.log("opened");
} catch (error) {
  console.log(error instanceof SqliteDriverMissingError, error.code, error.message);
}
`,
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /^true sqlite_driver_missing .*npm install better-sqlite3/);
    assert.equal(existsSync(join(app, "sessions.db")), false);
  });

  it("is required from CommonJS, root and subpaths sharing one copy of every class", async (t) => {
    if (skip) return t.skip(skip);
    const ran = await script(
      "cjs.cjs",
      `const root = require("sessionvisor");
const otp = require("sessionvisor/otp");
const store = require("sessionvisor/store");
console.log(typeof root.SessionSystem, root.Runtime === otp.Runtime, root.MemorySessionStore === store.MemorySessionStore);
`,
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), "function true true");
    // No ExperimentalWarning: require(esm) from inside node_modules is not warned about.
    assert.equal(ran.stderr, "");
  });

  it("required on a Node without require(esm), fails saying which Node it needs", async (t) => {
    if (skip) return t.skip(skip);
    // Node 20.19+ turns require(esm) off with this flag: what Node 20.0–20.18 does.
    const ran = await script("old-node.cjs", 'require("sessionvisor");\n', [
      "--no-experimental-require-module",
    ]);
    assert.notEqual(ran.code, 0);
    assert.match(ran.stderr, /require\("sessionvisor"\) needs Node\.js 20\.19 or newer/);
  });

  it("serves its testing helpers from sessionvisor/testing only", async (t) => {
    if (skip) return t.skip(skip);
    const ran = await script(
      "testing.mjs",
      `import * as root from "sessionvisor";
import * as testing from "sessionvisor/testing";
console.log(typeof testing.describeProviderConformance, typeof testing.describeSessionStoreConformance, testing.ManualClock === root.ManualClock, "describeProviderConformance" in root);
`,
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), "function function true false");
  });

  it("runs as `npx sessionvisor --version`", async (t) => {
    if (skip) return t.skip(skip);
    assert.equal((await ok("npx", ["sessionvisor", "--version"], app)).trim(), manifest.version);
  });

  it("serves the web observer page and its assets from the installed package", async (t) => {
    if (skip) return t.skip(skip);
    const ran = await script(
      "observer.mjs",
      `import { serve } from "sessionvisor";
const server = await serve({ memory: true, port: 0 });
const page = await fetch(server.url + "/");
const html = await page.text();
const asset = /src="(\\/assets\\/[^"]+\\.js)"/.exec(html)?.[1];
const script = asset ? await fetch(server.url + asset) : undefined;
console.log(JSON.stringify({ page: page.status, type: page.headers.get("content-type"), asset, script: script?.status }));
await server.close();
`,
    );
    assert.equal(ran.code, 0, ran.stderr);
    const answer = JSON.parse(ran.stdout) as { page: number; type: string; asset?: string; script?: number };
    assert.equal(answer.page, 200);
    assert.match(answer.type, /^text\/html/);
    assert.ok(answer.asset, "the page names its script");
    assert.equal(answer.script, 200);
  });

  it("runs as `npx sessionvisor --help`, listing its commands", async (t) => {
    if (skip) return t.skip(skip);
    assert.match(await ok("npx", ["sessionvisor", "--help"], app), /Usage: sessionvisor[\s\S]*chat/);
  });
});

/** A TypeScript user's file: every subpath, a typed logger, `await using`. */
const CONSUMER = `import { type Logger, MemorySessionStore, SessionSystem, SqliteDriverMissingError } from "sessionvisor";
import { Hosts } from "sessionvisor/hosts";
import { OfflineProvider } from "sessionvisor/llm";
import { Runtime, Supervisor } from "sessionvisor/otp";
import type { SessionStore } from "sessionvisor/store";
import { describeProviderConformance, describeSessionStoreConformance, ManualClock } from "sessionvisor/testing";
import { ToolSet } from "sessionvisor/tools";

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };

export async function answer(): Promise<string> {
  await using system = await SessionSystem.start({ logger: quiet, store: new MemorySessionStore() });
  const session = await system.createSession({ name: "typed" });
  return (await system.sendMessage(session.id, "hi")).text;
}

export async function processes(): Promise<number> {
  await using runtime = new Runtime({ logger: quiet, clock: new ManualClock() });
  return runtime.processCount;
}

export const classes = [Supervisor, OfflineProvider, ToolSet, Hosts, SqliteDriverMissingError];
export const suites = [describeProviderConformance, describeSessionStoreConformance];
export type Store = SessionStore;
`;

async function typecheck(file: string, options: Record<string, unknown>, text = CONSUMER): Promise<Ran> {
  writeFileSync(join(app, file), text);
  const config = `tsconfig.${file}.json`;
  writeFileSync(
    join(app, config),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        strict: true,
        noEmit: true,
        // The types of @types/node (Symbol.asyncDispose, node:test), from this repository.
        types: ["node"],
        typeRoots: [join(ROOT, "node_modules", "@types")],
        ...options,
      },
      files: [file],
    }),
  );
  return run(process.execPath, [TSC, "-p", config], app);
}

function compiled(ran: Ran): void {
  assert.equal(ran.code, 0, ran.stdout + ran.stderr);
}

describe("the installed package's types", T, () => {
  it("compile under moduleResolution node16 from an ES module, every .d.ts checked (skipLibCheck false)", async (t) => {
    if (skip) return t.skip(skip);
    compiled(
      await typecheck("consumer.mts", { module: "Node16", moduleResolution: "node16", skipLibCheck: false }),
    );
  });

  it("compile under moduleResolution bundler", async (t) => {
    if (skip) return t.skip(skip);
    compiled(
      await typecheck("bundled.ts", { module: "ESNext", moduleResolution: "bundler", skipLibCheck: true }),
    );
  });

  it("compile under nodenext from a CommonJS module (require of the ES module)", async (t) => {
    if (skip) return t.skip(skip);
    compiled(
      await typecheck("required.cts", {
        module: "NodeNext",
        moduleResolution: "nodenext",
        skipLibCheck: true,
      }),
    );
  });

  it("reject a wrong use (the checks can fail)", async (t) => {
    if (skip) return t.skip(skip);
    const ran = await typecheck(
      "bad.mts",
      { module: "Node16", moduleResolution: "node16", skipLibCheck: true },
      'import { SessionSystem } from "sessionvisor";\nawait SessionSystem.start({ logger: 42 });\n',
    );
    assert.notEqual(ran.code, 0);
    assert.match(ran.stdout, /bad\.mts\(2,\d+\): error TS2322/);
  });
});

describe("logging (from the sources)", T, () => {
  it("a logger that is not pino (four methods, no level) gets the crash report of a killed process", async () => {
    const records: { level: string; fields: Record<string, unknown> }[] = [];
    const keep = (level: string) => (fields: object) => {
      records.push({ level, fields: fields as Record<string, unknown> });
    };
    const logger: Logger = {
      error: keep("error"),
      warn: keep("warn"),
      info: keep("info"),
      debug: keep("debug"),
    };
    const runtime = new Runtime({ logger });
    try {
      const pid = await runtime.spawn(new (class extends GenServer {})());
      const exited = runtime.whenExited(pid);
      runtime.exit(pid, "kill");
      await exited;
      assert.deepEqual(
        records.map((record) => [record.level, record.fields.event, record.fields.process]),
        [["error", "crash_report", pid.toString()]],
      );
    } finally {
      await runtime.shutdown();
    }
  });
});

describe("hosts under another logger (from the sources)", T, () => {
  it("a thread-isolated session starts when the parent's logger has a level pino does not know", async () => {
    const ignore = () => {};
    const logger: Logger = { error: ignore, warn: ignore, info: ignore, debug: ignore, level: "verbose" };
    const system = await SessionSystem.start({ isolation: "thread", logger });
    try {
      const session = await system.createSession({});
      assert.equal((await system.sendMessage(session.id, "echo hello")).text, "hello");
    } finally {
      await system.stop();
    }
  });
});

describe("disposal (from the sources)", T, () => {
  it("a Runtime's Symbol.asyncDispose shuts it down", async () => {
    const runtime = new Runtime();
    await runtime[Symbol.asyncDispose]();
    assert.equal(runtime.isStopped, true);
  });

  it("a SessionSystem's Symbol.asyncDispose stops it and the runtime it made", async () => {
    const system = await SessionSystem.start();
    await system[Symbol.asyncDispose]();
    assert.equal(system.runtime.isStopped, true);
  });
});
