// GET /metrics over real HTTP: the Prometheus text, parsed, and the counters moved by real
// sessions and turns (the offline model, paced where a turn must last).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ALICE, serversForTests } from "./support/http-servers.js";
import { recorder } from "./support/sessions.js";

const TEST_TIMEOUT = { timeout: 30_000 };
const start = serversForTests();

async function call(url: string, method: string, path: string, body?: unknown, token: string | null = ALICE) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, read by the fields each test expects.
    body: text && text[0] === "{" ? (JSON.parse(text) as any) : text,
  };
}

/** The samples of a Prometheus text: `name{a="b",c="d"}` (labels sorted) → value. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `a sample line: ${line}`);
    const labels = [...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map((m) => `${m[1]}="${m[2]}"`)
      .sort();
    samples.set(
      labels.length > 0 ? `${match[1]}{${labels.join(",")}}` : (match[1] as string),
      Number(match[3]),
    );
  }
  return samples;
}

async function scrape(url: string, token: string | null = ALICE): Promise<Map<string, number>> {
  const answer = await call(url, "GET", "/metrics", undefined, token);
  assert.equal(answer.status, 200, String(answer.body));
  assert.match(answer.headers.get("content-type") ?? "", /^text\/plain/);
  return parseMetrics(answer.body as string);
}

function sample(samples: Map<string, number>, key: string): number {
  const value = samples.get(key);
  assert.ok(value !== undefined, `${key} is in the scrape`);
  return value;
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("GET /metrics", () => {
  it("counts sessions by status, turns completed and their durations", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const before = await scrape(url);
    assert.equal(sample(before, 'sessionvisor_sessions{status="active"}'), 0);
    assert.equal(sample(before, 'sessionvisor_turns_total{status="completed"}'), 0);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push((await call(url, "POST", "/v1/sessions", {})).body.id);
    for (const id of ids) {
      for (let i = 0; i < 2; i++) {
        const sent = await call(url, "POST", `/v1/sessions/${id}/messages`, { text: `echo hello ${i}` });
        assert.equal(sent.status, 200);
      }
    }
    const after = await scrape(url);
    assert.equal(sample(after, 'sessionvisor_sessions{status="active"}'), 2);
    assert.equal(sample(after, 'sessionvisor_turns_total{status="completed"}'), 4);
    assert.equal(sample(after, "sessionvisor_turn_duration_seconds_count"), 4);
    assert.ok(sample(after, "sessionvisor_turn_duration_seconds_sum") > 0);
    assert.equal(sample(after, 'sessionvisor_turn_duration_seconds_bucket{le="+Inf"}'), 4);
    await call(url, "DELETE", `/v1/sessions/${ids[0]}`);
    assert.equal(sample(await scrape(url), 'sessionvisor_sessions{status="active"}'), 1);
  });

  it("has prom-client's default process metrics and the hosts by kind", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const samples = await scrape(url);
    assert.ok(sample(samples, "process_cpu_user_seconds_total") >= 0);
    assert.ok(sample(samples, "nodejs_heap_size_used_bytes") > 0);
    assert.equal(sample(samples, 'sessionvisor_hosts{kind="thread"}'), 0);
    assert.equal(sample(samples, 'sessionvisor_hosts{kind="process"}'), 0);
  });

  it("counts a thread host and shows its memory", TEST_TIMEOUT, async () => {
    const { url, system } = await start({ system: { isolation: "thread" } });
    const { body: made } = await call(url, "POST", "/v1/sessions", {});
    await until(() => system.sessionHost(made.id)?.memory !== undefined);
    const hostId = system.sessionHost(made.id)?.hostId;
    const samples = await scrape(url);
    assert.ok(sample(samples, 'sessionvisor_hosts{kind="thread"}') >= 1);
    assert.ok(
      sample(samples, `sessionvisor_host_memory_bytes{host="${hostId}",kind="thread",type="heapUsed"}`) > 0,
    );
  });

  it("counts a cancelled turn as cancelled, not failed", TEST_TIMEOUT, async () => {
    const { url, system } = await start({ chunkDelayMs: 50 });
    const { body: made } = await call(url, "POST", "/v1/sessions", {});
    const events = recorder();
    await system.subscribe(made.id, events.listener);
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ");
    const sending = call(url, "POST", `/v1/sessions/${made.id}/messages`, { text: `echo ${words}` });
    await events.waitFor((e) => e.type === "llm_delta");
    assert.equal((await call(url, "DELETE", `/v1/sessions/${made.id}/turn`)).status, 200);
    assert.equal((await sending).status, 409);
    await events.waitFor((e) => e.type === "turn_cancelled");
    // Past the grace an llm_error waits for its turn_* ending.
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const samples = await scrape(url);
    assert.equal(sample(samples, 'sessionvisor_turns_total{status="cancelled"}'), 1);
    assert.equal(sample(samples, 'sessionvisor_turns_total{status="failed"}'), 0);
    assert.equal(sample(samples, "sessionvisor_turn_duration_seconds_count"), 1);
  });

  it("counts a session restarted after its supervisor is killed", TEST_TIMEOUT, async () => {
    const { url, system } = await start();
    const { body: made } = await call(url, "POST", "/v1/sessions", {});
    assert.equal(sample(await scrape(url), "sessionvisor_session_restarts_total"), 0);
    const supervisor = system.findSupervisor(made.id);
    assert.ok(supervisor);
    system.runtime.exit(supervisor, "kill");
    await until(async () => (await system.getSession(made.id))?.restarts === 1);
    await until(async () => (await system.getSession(made.id))?.status === "active");
    assert.equal(sample(await scrape(url), "sessionvisor_session_restarts_total"), 1);
  });

  it("needs a token when tokens are configured (401 without)", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await call(url, "GET", "/metrics", undefined, null);
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error.code, "unauthorized");
    assert.equal((await call(url, "GET", "/metrics", undefined, "svt_wrong")).status, 401);
  });

  it("is open without tokens (loopback only)", TEST_TIMEOUT, async () => {
    const { url } = await start({ tokens: undefined });
    await scrape(url, null);
  });

  it("keeps each server's metrics apart (a registry each, not the global one)", TEST_TIMEOUT, async () => {
    const a = await start();
    const b = await start();
    const { body: made } = await call(b.url, "POST", "/v1/sessions", {});
    assert.equal(
      (await call(b.url, "POST", `/v1/sessions/${made.id}/messages`, { text: "echo hi" })).status,
      200,
    );
    assert.equal(sample(await scrape(b.url), 'sessionvisor_turns_total{status="completed"}'), 1);
    assert.equal(sample(await scrape(a.url), 'sessionvisor_turns_total{status="completed"}'), 0);
    assert.equal(sample(await scrape(a.url), 'sessionvisor_sessions{status="active"}'), 0);
  });

  it("is not loaded by importing sessionvisor: prom-client comes with the first server", TEST_TIMEOUT, () => {
    const dir = mkdtempSync(join(tmpdir(), "sessionvisor-metrics-"));
    try {
      writeFileSync(
        join(dir, "hook.mjs"),
        'export async function resolve(s, c, next) { if (s.includes("prom-client")) process.stderr.write("LOADED " + s + "\\n"); return next(s, c); }\n',
      );
      writeFileSync(
        join(dir, "register.mjs"),
        `import { register } from "node:module";\nregister(${JSON.stringify(`file://${join(dir, "hook.mjs")}`)});\n`,
      );
      const run = (code: string) =>
        spawnSync(
          process.execPath,
          ["--import", join(dir, "register.mjs"), "--import", "tsx", "--input-type=module", "-e", code],
          { encoding: "utf8", timeout: 30_000, killSignal: "SIGKILL" },
        );
      const imported = run('await import("./src/index.ts"); console.log("imported");');
      assert.equal(imported.stdout.trim(), "imported", imported.stderr);
      assert.doesNotMatch(imported.stderr, /LOADED/);
      const served = run(
        'const m = await import("./src/index.ts"); const s = await m.SessionSystem.start(); const v = await m.serve({ system: s, port: 0 }); await v.close(); await s.stop(); console.log("served");',
      );
      assert.equal(served.stdout.trim(), "served", served.stderr);
      assert.match(served.stderr, /LOADED prom-client/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
