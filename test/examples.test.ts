import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

function runExample(path: string): { stdout: string; stderr: string; status: number | null } {
  const run = spawnSync(process.execPath, ["--import", "tsx", path], { encoding: "utf8", timeout: 60_000 });
  return { stdout: run.stdout, stderr: run.stderr, status: run.status };
}

function readmeBlock(marker: string): string {
  const readme = readFileSync("README.md", "utf8");
  const head = `<!-- ${marker} -->\n\`\`\`ts\n`;
  const start = readme.indexOf(head);
  assert.ok(start >= 0, `the README has the ${marker} block`);
  return readme.slice(start + head.length, readme.indexOf("```\n", start + head.length));
}

describe("README", () => {
  it("shows examples/quickstart.ts verbatim as its runtime example", () => {
    assert.equal(
      readmeBlock("quickstart: examples/quickstart.ts"),
      readFileSync("examples/quickstart.ts", "utf8"),
    );
  });

  it("opens with examples/coding-session.ts, importing from the package", () => {
    assert.equal(
      readmeBlock("opening: examples/coding-session.ts"),
      readFileSync("examples/coding-session.ts", "utf8").replace('"../src/index.js"', '"sessionvisor"'),
    );
  });

  it("opening example runs: the offline model calls read_file on the project and sums it up", () => {
    const { stdout, status, stderr } = runExample("examples/coding-session.ts");
    assert.equal(status, 0, stderr);
    assert.match(stdout, /→ read_file \{ path: 'README\.md' \}\n/);
    assert.match(stdout, /read_file: \{"path":"README\.md","content":"# sessionvisor/);
  });

  it("shows examples/sessions-quickstart.ts verbatim as its session example", () => {
    assert.equal(
      readmeBlock("sessions: examples/sessions-quickstart.ts"),
      readFileSync("examples/sessions-quickstart.ts", "utf8"),
    );
  });

  it("session example runs: it answers, survives a kill with its history, and terminates", () => {
    const { stdout, status } = runExample("examples/sessions-quickstart.ts");
    assert.equal(status, 0);
    assert.match(stdout, /reply: hello from the session\n/);
    assert.match(stdout, /recovering -> active\n/);
    assert.match(stdout, /history after the kill: 2 turns\n/);
    assert.match(stdout, /terminating -> terminated\n/);
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
