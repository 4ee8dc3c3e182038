// The NATS client is an optional peer dependency: importing the cluster layer loads none of it,
// a missing package is a typed error saying what to install, and a connection states what the
// server can do (nats-server 2.9.10 here: no per-key TTL).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { capabilitiesOf } from "../src/cluster/capabilities.js";
import { ClusterUnavailableError, connectCluster } from "../src/cluster/index.js";
import { NATS_URL, natsFixture } from "./support/nats.js";

const TEST = { timeout: 60_000 };

// A resolve hook: logs every @nats-io package resolved, or (HIDE_NATS=1) answers as Node does
// for a package that is not installed.
const HOOK = `export async function resolve(specifier, context, next) {
  if (specifier.startsWith("@nats-io/")) {
    if (process.env.HIDE_NATS === "1") {
      const error = new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL);
      error.code = "ERR_MODULE_NOT_FOUND";
      throw error;
    }
    process.stderr.write("LOADED " + specifier + "\\n");
  }
  return next(specifier, context);
}
`;

function runWithHook(code: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-nats-client-"));
  try {
    writeFileSync(join(dir, "hook.mjs"), HOOK);
    writeFileSync(
      join(dir, "register.mjs"),
      `import { register } from "node:module";\nregister(${JSON.stringify(`file://${join(dir, "hook.mjs")}`)});\n`,
    );
    return spawnSync(
      process.execPath,
      ["--import", join(dir, "register.mjs"), "--import", "tsx", "--input-type=module", "-e", code],
      { encoding: "utf8", timeout: 30_000, killSignal: "SIGKILL", env: { ...process.env, ...env } },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the NATS client, loaded on first use", () => {
  it("is not loaded by importing the cluster layer", TEST, () => {
    const ran = runWithHook('await import("./src/cluster/index.ts"); console.log("imported");');
    assert.equal(ran.stdout.trim(), "imported", ran.stderr);
    assert.doesNotMatch(ran.stderr, /LOADED/);
  });

  it("when missing, connecting fails with NatsClientMissingError saying what to install", TEST, () => {
    const ran = runWithHook(
      'const m = await import("./src/cluster/index.ts");' +
        "try { await m.connectCluster(); console.log('connected'); }" +
        "catch (e) { console.log(e instanceof m.NatsClientMissingError, e.code, e.message); }",
      { HIDE_NATS: "1" },
    );
    assert.match(
      ran.stdout,
      /^true nats_client_missing .*npm install @nats-io\/transport-node@~3\.3/,
      ran.stderr,
    );
  });
});

describe("cluster connection", () => {
  it("connects, and states the server's version and what it allows", TEST, async (t) => {
    await natsFixture(t); // fails clearly when NATS is not there
    const connection = await connectCluster({ servers: NATS_URL, name: "capabilities-test" });
    t.after(() => connection.close());
    const { serverVersion, perKeyTtl, expiryMarkers } = connection.capabilities;
    assert.match(serverVersion, /^\d+\.\d+\.\d+/);
    assert.equal(perKeyTtl, capabilitiesOf(serverVersion).perKeyTtl);
    assert.equal(expiryMarkers, perKeyTtl);
    await connection.close();
    assert.equal(connection.isClosed, true);
  });

  it("fails with ClusterUnavailableError (unreachable) when nothing listens", TEST, async () => {
    await assert.rejects(
      connectCluster({ servers: "nats://127.0.0.1:1", connectTimeoutMs: 2000, maxReconnectAttempts: 0 }),
      (error: unknown) => error instanceof ClusterUnavailableError && error.reason === "unreachable",
    );
  });

  it("reads per-key TTL from the version: 2.11 and later have it, 2.9.10 does not", () => {
    assert.equal(capabilitiesOf("2.9.10").perKeyTtl, false);
    assert.equal(capabilitiesOf("2.10.22").perKeyTtl, false);
    assert.equal(capabilitiesOf("2.11.0").perKeyTtl, true);
    assert.equal(capabilitiesOf("v3.0.1").perKeyTtl, true);
    assert.equal(capabilitiesOf("unknown").perKeyTtl, false);
  });
});
