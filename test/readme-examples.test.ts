// Every TypeScript block of the README compiles against the package's source, and every block
// that can run on a machine without a network runs to its end. The opening and the two
// quickstarts are files of examples/ checked verbatim by test/examples.test.ts; this covers the
// rest. A block is completed the way a reader would complete it: the names it takes from
// "sessionvisor" without importing them are imported, and `system`, `runtime`, `id` or `context`,
// when it uses one it does not declare, is made for it (and stopped after it).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { TEST_POSTGRES_URL, TestSchemas } from "./support/postgres-test-db.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ENTRY = join(ROOT, "src", "index.js");
/** Each `sessionvisor/<subpath>` import as the source file the package builds it from. */
const SUBPATH_ENTRIES: Record<string, string> = {
  otp: join(ROOT, "src", "otp.js"),
  hosts: join(ROOT, "src", "hosts", "index.js"),
  llm: join(ROOT, "src", "llm", "index.js"),
  store: join(ROOT, "src", "store", "index.js"),
  tools: join(ROOT, "src", "tools", "index.js"),
  cluster: join(ROOT, "src", "cluster", "index.js"),
  testing: join(ROOT, "src", "testing.js"),
};
/** tsx's loader by its own address: a block runs in a folder with no node_modules of its own. */
const TSX = import.meta.resolve("tsx");

/** Blocks that cannot run here, with why; they still compile. Matched by a string they contain. */
const COMPILE_ONLY: [string, string][] = [
  ["@modelcontextprotocol/server-filesystem", "npx downloads an MCP server from the npm registry"],
  ["fences: leases", "it needs a cluster node's leases"],
];

/**
 * What a fragment that cannot run takes as given, declared for the compiler only: the names a
 * reader brings from the surrounding text.
 */
const GIVEN: Record<string, string> = {
  leases: `import(${JSON.stringify(ENTRY)}).FenceSource`,
  remotePid: `import(${JSON.stringify(ENTRY)}).Pid`,
  connectionString: "string",
  schema: "string",
};

/** The schema the Postgres example runs in: the test database's, fresh, dropped afterwards. */
const schemas = new TestSchemas();
const README_SCHEMA = schemas.fresh();

/**
 * What a reader changes to run a block on a shared machine: a fixed port may be taken, and the
 * Postgres example names a server of its own.
 */
const SUBSTITUTIONS: [string, string][] = [
  ["port: 8787", "port: 0"],
  ['"postgres://app@db.internal:5432/app"', JSON.stringify(TEST_POSTGRES_URL)],
  ['schema: "sessionvisor"', `schema: ${JSON.stringify(README_SCHEMA)}`],
];

interface Block {
  line: number;
  code: string;
  /** Why it does not run, from a `<!-- compile-only: why -->` line above it. */
  compileOnly?: string;
}

/** The README's ```ts blocks (indented ones in lists too), but for the examples/ files it shows. */
function readmeBlocks(): Block[] {
  const lines = readFileSync(join(ROOT, "README.md"), "utf8").split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```ts\s*$/.exec(lines[i] as string);
    if (!open) continue;
    const indent = (open[1] as string).length;
    const start = i;
    const body: string[] = [];
    while (!/^\s*```\s*$/.test(lines[++i] as string)) body.push((lines[i] as string).slice(indent));
    const above = lines[start - 1] ?? "";
    if (/^<!-- .*examples\//.test(above)) continue;
    const compileOnly = /^<!-- compile-only: (.+) -->$/.exec(above)?.[1];
    blocks.push({ line: start + 1, code: `${body.join("\n")}\n`, ...(compileOnly ? { compileOnly } : {}) });
  }
  return blocks;
}

/** The code without its comments and string literals, where a name is not a use of it. */
const codeOnly = (code: string) =>
  code.replace(/(^|\s)\/\/.*$/gm, "$1").replace(/"(?:[^"\\\n]|\\.)*"/g, '""');
/** Whether the code refers to `name` as a variable: not as a property (`.name`) or a key (`name:`). */
const uses = (code: string, name: string) =>
  new RegExp(`(?<![.\\w$])${name}\\b(?!\\??\\s*:)`).test(codeOnly(code));
const declares = (code: string, name: string) =>
  new RegExp(`\\b(?:const|let|var|using|class|function)\\s+${name}\\b`).test(code) ||
  // Destructured: `const { id } = …`, `const [a, id] = …`.
  new RegExp(`\\b(?:const|let|var)\\s*[{[][^=]*\\b${name}\\b[^=]*[}\\]]\\s*=`).test(code) ||
  new RegExp(`import\\s*\\{[^}]*\\b${name}\\b[^}]*\\}`).test(code) ||
  new RegExp(`import\\s+${name}\\s+from`).test(code);

/** The block as a module a reader would write around it. */
function completed(code: string, exported: string[], runs: boolean): string {
  const body = SUBSTITUTIONS.reduce((text, [from, to]) => text.replaceAll(from, to), code).replaceAll(
    /from "sessionvisor(?:\/([a-z]+))?"/g,
    (_, subpath: string | undefined) => `from ${JSON.stringify(subpath ? SUBPATH_ENTRIES[subpath] : ENTRY)}`,
  );
  const needs = (name: string) => uses(body, name) && !declares(body, name);
  const before: string[] = [];
  const afterwards: string[] = [];
  const imports = new Set(exported.filter((name) => needs(name)));
  if (needs("system")) {
    imports.add("SessionSystem");
    before.push("const system = await SessionSystem.start();");
    afterwards.push("await system.stop();");
  } else if (declares(body, "system") && !/await using system/.test(body)) {
    afterwards.push("await system.stop();");
  }
  if (needs("id")) before.push("const { id } = await system.createSession();");
  if (needs("runtime")) {
    imports.add("Runtime");
    before.push("const runtime = new Runtime();");
    afterwards.push("await runtime.shutdown();");
  } else if (declares(body, "runtime") && !/await using runtime/.test(body)) {
    afterwards.push("await runtime.shutdown();");
  }
  if (needs("context")) {
    imports.add("Project").add("ToolContext");
    before.push("const context = new ToolContext({ project: await Project.open(process.cwd()) });");
  }
  if (body.includes('"tokens.json"')) {
    before.push(
      `(await import("node:fs")).writeFileSync("tokens.json", JSON.stringify([{ owner: "alice", sha256: "${"a".repeat(64)}" }]));`,
    );
  }
  if (!runs) {
    for (const [name, type] of Object.entries(GIVEN)) {
      if (needs(name)) before.unshift(`declare const ${name}: ${type};`);
    }
  }
  const head =
    imports.size > 0 ? [`import { ${[...imports].join(", ")} } from ${JSON.stringify(ENTRY)};`] : [];
  return [...head, ...before, body, ...afterwards, "export {};", ""].join("\n");
}

function run(
  command: string,
  args: string[],
  cwd: string,
  timeoutMs: number,
): Promise<{ status: number | null; output: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolvePromise({ status, output });
    });
  });
}

describe("the README's TypeScript examples", { timeout: 240_000 }, () => {
  const blocks = readmeBlocks();
  let dir = "";
  /** tsc's complaints about each block's file, by file name. */
  const diagnostics = new Map<string, string[]>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sessionvisor-readme-"));
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    const exported = Object.keys(await import("../src/index.js"));
    for (const block of blocks) {
      const runs = !(block.compileOnly || COMPILE_ONLY.some(([marker]) => block.code.includes(marker)));
      writeFileSync(join(dir, `line-${block.line}.ts`), completed(block.code, exported, runs));
    }
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: join(ROOT, "tsconfig.json"),
        compilerOptions: { rootDir: "/", lib: ["ES2023", "esnext.disposable"], noUnusedLocals: false },
        include: ["./*.ts"],
      }),
    );
    const tsc = await run(
      process.execPath,
      [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json", "--pretty", "false"],
      dir,
      180_000,
    );
    for (const line of tsc.output.split("\n")) {
      const file = /^(line-\d+\.ts)\(/.exec(line)?.[1] ?? /\/(line-\d+\.ts)\(/.exec(line)?.[1];
      if (file) diagnostics.set(file, [...(diagnostics.get(file) ?? []), line]);
    }
    assert.ok(tsc.status === 0 || diagnostics.size > 0, `tsc failed outside the examples:\n${tsc.output}`);
  });

  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await schemas.dropAll();
  });

  it("has the blocks this test expects to find", () => {
    assert.ok(blocks.length >= 8, `found ${blocks.length} blocks`);
  });

  for (const block of blocks) {
    const skip = block.compileOnly ?? COMPILE_ONLY.find(([marker]) => block.code.includes(marker))?.[1];
    const file = `line-${block.line}.ts`;
    const title = skip
      ? `the block at README line ${block.line} compiles (it does not run here: ${skip})`
      : `the block at README line ${block.line} compiles and runs`;
    it(title, async () => {
      assert.deepEqual(diagnostics.get(file) ?? [], [], readFileSync(join(dir, file), "utf8"));
      if (skip) return;
      const cwd = join(dir, `cwd-${block.line}`);
      mkdirSync(cwd);
      const result = await run(process.execPath, ["--import", TSX, join(dir, file)], cwd, 60_000);
      assert.equal(result.status, 0, `${readFileSync(join(dir, file), "utf8")}\n---\n${result.output}`);
    });
  }
});
