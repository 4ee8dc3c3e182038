// The built package is a bundle (scripts/bundle.mjs): its hosts run the bundle's host entry, and
// a module that imports the package inside a host gets the host's own classes, not a second
// copy of the library. The rest of the suite runs the sources under tsx; this runs the bundle,
// in a node process of its own as a user's program would.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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
        assert.ok(seen.command.includes(join(out, "host-main.js")), seen.command.join(" "));
      }
    });
  });
}
