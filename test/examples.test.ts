import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

function runExample(path: string): { stdout: string; stderr: string; status: number | null } {
  const run = spawnSync(process.execPath, ["--import", "tsx", path], { encoding: "utf8", timeout: 60_000 });
  return { stdout: run.stdout, stderr: run.stderr, status: run.status };
}

describe("README", () => {
  it("shows examples/quickstart.ts verbatim as its usage example", () => {
    const readme = readFileSync("README.md", "utf8");
    const marker = "<!-- quickstart: examples/quickstart.ts -->\n```ts\n";
    const start = readme.indexOf(marker);
    assert.ok(start >= 0, "the README has the quickstart block");
    const body = readme.slice(start + marker.length, readme.indexOf("```\n", start + marker.length));
    assert.equal(body, readFileSync("examples/quickstart.ts", "utf8"));
  });

  it("quickstart runs and shows the counter restarted with fresh state", () => {
    const { stdout, status } = runExample("examples/quickstart.ts");
    assert.equal(status, 0);
    assert.match(
      stdout,
      /^counter: 1\ncall failed: .*counter exploded\nrestarted: <(.+)> -> <(.+)>\ncounter: 1\n$/,
    );
  });
});

describe("npm run demo (supervision demo)", () => {
  it("restarts each crashed child, removes the flapping one and shuts down cleanly", () => {
    const { stdout, status } = runExample("examples/supervision-demo.ts");
    assert.equal(status, 0);
    assert.match(stdout, /parser restarted as <demo\.\d+>/);
    assert.match(stdout, /indexer restarted as <demo\.\d+>/);
    assert.match(stdout, /session-1 restarted as/);
    assert.match(stdout, /session-2 used up its own restart budget and was removed/);
    assert.match(stdout, /sessions still running: session-1\n/);
    assert.match(stdout, /shut down cleanly\.\n$/);
  });
});
