// The built package is a bundle (scripts/bundle.mjs): its hosts run the bundle's host entry, and
// a module that imports the package inside a host gets the host's own classes, not a second
// copy of the library. The rest of the suite runs the sources under tsx; this runs the bundle,
// in a node process of its own as a user's program would.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

const ROOT = new URL("..", import.meta.url);
const out = mkdtempSync(join(tmpdir(), "sessionvisor-bundle-"));
// The bundle leaves better-sqlite3 and the model SDKs to Node, which looks for them from `out`.
symlinkSync(new URL("node_modules", ROOT), join(out, "node_modules"), "dir");
// A providers module as a user writes one: it imports the package and builds a registry.
writeFileSync(
  join(out, "providers.js"),
  'import { defaultProviders } from "./index.js";\nexport function providers() { return defaultProviders(); }\n',
);

// Run by plain node (no tsx): the package as a user's program loads it.
writeFileSync(
  join(out, "check.mjs"),
  `import { readFileSync } from "node:fs";
import { SessionSystem, silentLogger } from "./index.js";
const isolation = process.argv[2];
const system = await SessionSystem.start({
  isolation,
  logger: silentLogger(),
  hostProviders: { module: new URL("./providers.js", import.meta.url), export: "providers" },
});
try {
  const { id } = await system.createSession({ llm: { provider: "offline" } });
  const host = system.sessionHost(id);
  const reply = await system.sendMessage(id, "hello");
  let command;
  try {
    command = readFileSync(\`/proc/\${host.osPid}/cmdline\`, "utf8").split("\\0");
  } catch {}
  console.log(JSON.stringify({ isolation: host.isolation, text: reply.text, command }));
} finally {
  await system.stop();
}
`,
);

// Providers modules a host cannot load with `require`'s fast path (a top-level await) and one it
// loads as CommonJS: each must still give the session its providers.
writeFileSync(
  join(out, "awaiting.mjs"),
  'import { defaultProviders } from "./index.js";\nawait Promise.resolve();\nexport function providers() { return defaultProviders(); }\n',
);
writeFileSync(
  join(out, "common.cjs"),
  'const { defaultProviders } = require("./llm.js");\nexports.providers = () => defaultProviders();\n',
);

// How each host of one system loaded the library, and whether a process's code cache left a
// file behind.
writeFileSync(
  join(out, "cache.mjs"),
  `import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { SessionSystem, silentLogger } from "./index.js";
const [isolation, providersFile] = process.argv.slice(2);
const system = await SessionSystem.start({
  isolation,
  logger: silentLogger(),
  ...(providersFile ? { hostProviders: { module: new URL(providersFile, import.meta.url), export: "providers" } } : {}),
});
const codes = [];
let text;
try {
  // The first host compiles the library and sends its cache after its session started: the
  // hosts after it boot from that cache once it has arrived.
  for (let i = 0; i < 40 && codes.at(-1) !== "cached"; i++) {
    const { id } = await system.createSession({ llm: { provider: "offline" } });
    codes.push(system.listHosts().find((host) => host.label === id)?.code);
    text ??= (await system.sendMessage(id, "hello")).text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
} finally {
  await system.stop();
}
const leftovers = readdirSync(tmpdir()).filter((name) => name.startsWith(\`sessionvisor-code-\${process.pid}-\`));
console.log(JSON.stringify({ codes, text, leftovers }));
`,
);

// A thread host started by hand, as the parent would, with a code cache V8 must refuse.
writeFileSync(
  join(out, "refused.mjs"),
  `import { readdirSync } from "node:fs";
import { Worker } from "node:worker_threads";
const chunks = readdirSync(new URL(".", import.meta.url)).filter((name) => /^chunk-.*\\.cjs$/.test(name));
const codeCache = Object.fromEntries(chunks.map((name) => [name, new Uint8Array(4096).fill(7)]));
const worker = new Worker(new URL("./host-main.cjs", import.meta.url), {
  workerData: { node: "h1", parentNode: "p", kind: "thread", heartbeatMs: 1000, stopTimeoutMs: 1000,
    maxInFlightBytes: 1 << 20, logLevel: "silent", codeCache },
});
const ready = await new Promise((resolve, reject) => {
  worker.on("message", (frame) => frame.t === "ready" && resolve(frame));
  worker.once("error", reject);
});
await worker.terminate();
console.log(JSON.stringify({ chunks: chunks.length, code: ready.code }));
`,
);

before(async () => {
  await run(process.execPath, [fileURLToPath(new URL("scripts/bundle.mjs", ROOT)), out], {
    timeout: 100_000,
  });
});

after(() => rmSync(out, { recursive: true, force: true }));

for (const isolation of ["thread", "process"] as const) {
  describe(`a ${isolation}-isolated session of the bundled package`, { timeout: 120_000 }, () => {
    it("runs in a host started from the bundle, with a providers module that imports the package", async () => {
      const { stdout } = await run(process.execPath, [join(out, "check.mjs"), isolation], {
        cwd: out,
        timeout: 100_000,
      });
      const seen = JSON.parse(stdout) as { isolation: string; text: string; command?: string[] };
      // The hosted session refuses a providers registry that is not its own class: a second copy
      // of the library in the host (the providers module's) would have failed the start.
      assert.equal(seen.isolation, isolation);
      assert.match(seen.text, /hello/);
      if (isolation === "process" && seen.command) {
        assert.ok(seen.command.includes(join(out, "host-main.cjs")), seen.command.join(" "));
      }
    });
  });
}

describe("the bundled package's host chunks", () => {
  /** The chunks every host loads, as host-main.cjs names them to its loader. */
  const hostChunks = () => {
    const names = /loadHostCode\(__dirname, (\[[^\]]*\])/.exec(
      readFileSync(join(out, "host-main.cjs"), "utf8"),
    )?.[1];
    return (JSON.parse(names ?? "[]") as string[]).map((name) => name.replace(/\.cjs$/, ""));
  };

  it("are required by the package's entries, not imported through their ES module wrappers", () => {
    const chunks = hostChunks();
    assert.equal(chunks.length, 2);
    for (const entry of ["index.js", "llm.js", "otp.js", "hosts.js"]) {
      const text = readFileSync(join(out, entry), "utf8");
      for (const chunk of chunks)
        assert.ok(!text.includes(`"./${chunk}.js"`), `${entry} imports ${chunk}.js`);
      assert.ok(
        chunks.some((chunk) => text.includes(`require("./${chunk}.cjs")`)),
        `${entry} requires none`,
      );
    }
  });

  it("are ASCII, which a host reads as latin1", () => {
    const chunks = hostChunks();
    assert.equal(chunks.length, 2);
    for (const chunk of chunks) {
      const text = readFileSync(join(out, `${chunk}.cjs`), "utf8");
      assert.ok(!/[\u0080-\uffff]/.test(text), `${chunk}.cjs has a character beyond ASCII`);
    }
  });
});

describe("the bundled package's code cache", { timeout: 120_000 }, () => {
  const cacheRun = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [join(out, "cache.mjs"), ...args], {
      cwd: out,
      timeout: 100_000,
    });
    return JSON.parse(stdout) as { codes: string[]; text: string; leftovers: string[] };
  };

  for (const isolation of ["thread", "process"] as const) {
    it(`boots a later ${isolation} host from the cache the first one sent`, async () => {
      const seen = await cacheRun(isolation);
      assert.equal(seen.codes[0], "compiled");
      assert.equal(seen.codes.at(-1), "cached", seen.codes.join(", "));
      assert.match(seen.text, /hello/);
    });
  }

  it("leaves no file of a process host's cache on disk", async () => {
    const seen = await cacheRun("process");
    assert.equal(seen.codes.at(-1), "cached", seen.codes.join(", "));
    assert.deepEqual(seen.leftovers, []);
  });

  it("compiles from source when V8 refuses the cache a host is given", async () => {
    const { stdout } = await run(process.execPath, [join(out, "refused.mjs")], {
      cwd: out,
      timeout: 100_000,
    });
    const seen = JSON.parse(stdout) as { chunks: number; code: string };
    assert.equal(seen.chunks, 2);
    assert.equal(seen.code, "compiled");
  });

  for (const [file, what] of [
    ["./awaiting.mjs", "an ES module with a top-level await"],
    ["./common.cjs", "a CommonJS module"],
  ] as const) {
    it(`loads a providers module that is ${what} in a host`, async () => {
      const seen = await cacheRun("thread", file);
      assert.match(seen.text, /hello/);
    });
  }
});
