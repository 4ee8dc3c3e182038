// Generated bad (and some good) requests against every route over real HTTP: never a 500, every
// error a JSON body with a code, and a refused request changes nothing.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { hashToken, newToken, type RunningServer, type SessionSystem, serve } from "../src/index.js";
import { startSystem } from "./support/sessions.js";

const ALICE = newToken();
const BOB = newToken();

let system: SessionSystem;
let server: RunningServer;
let mine: string;
let theirs: string;

before(async () => {
  system = await startSystem();
  server = await serve({
    system,
    port: 0,
    tokens: [
      { owner: "alice", sha256: hashToken(ALICE) },
      { owner: "bob", sha256: hashToken(BOB) },
    ],
    limits: { maxBodyBytes: 4096, maxStreamsPerOwner: 4 },
  });
  mine = (await system.createSession({ owner: "alice", name: "mine" })).id;
  theirs = (await system.createSession({ owner: "bob", name: "theirs" })).id;
});

after(async () => {
  await server?.close();
  await system?.stop();
});

/** What a refused request must not change: every session's status and history length. */
async function snapshot(): Promise<string> {
  const sessions = await system.listSessions();
  const parts = await Promise.all(
    sessions
      .sort((a, b) => a.id.localeCompare(b.id))
      .map(async (s) => `${s.id}:${s.status}:${(await system.getHistory(s.id)).length}`),
  );
  return parts.join("|");
}

/** Waits for what a dropped stream set going (a turn and its cancellation) to be over. */
async function settled(): Promise<void> {
  let last = await snapshot();
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = await snapshot();
    if (now === last) return;
    last = now;
  }
}

const anyId = () =>
  fc.oneof(
    fc.constant("MINE"),
    fc.constant("THEIRS"),
    fc.constant("session_0b6d1c52-8e0e-4a6b-9c55-3c1a2f4e5d6a"),
    fc.string({ maxLength: 60 }).map(encodeURIComponent),
    fc.constant("import"),
  );

/** The API's own routes, each with its method, most of the time; anything at all otherwise. */
const endpoint: fc.Arbitrary<[string, string]> = fc.oneof(
  {
    weight: 6,
    arbitrary: anyId().chain((id) =>
      fc.constantFrom<[string, string][]>(
        ["POST", "/v1/sessions"],
        ["GET", "/v1/sessions"],
        ["GET", `/v1/sessions/${id}`],
        ["DELETE", `/v1/sessions/${id}`],
        ["POST", `/v1/sessions/${id}/restore`],
        ["GET", `/v1/sessions/${id}/export`],
        ["POST", "/v1/sessions/import"],
        ["GET", `/v1/sessions/${id}/history`],
        ["POST", `/v1/sessions/${id}/messages`],
        ["DELETE", `/v1/sessions/${id}/turn`],
        ["POST", `/v1/sessions/${id}/tool-calls/call_1_1/approve`],
        ["POST", `/v1/sessions/${id}/tool-calls/call_1_1/deny`],
        ["GET", `/v1/sessions/${id}/events`],
        ["GET", "/v1/events"],
        ["GET", "/readyz"],
      ),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH"),
      fc.oneof(
        anyId().map((id) => `/v1/sessions/${id}`),
        fc
          .tuple(
            anyId(),
            fc.string({ maxLength: 20 }).map(encodeURIComponent),
            fc.constantFrom("approve", "deny", "x"),
          )
          .map(([id, call, what]) => `/v1/sessions/${id}/tool-calls/${call || "c"}/${what}`),
        fc.string({ maxLength: 30 }).map((p) => `/${encodeURIComponent(p)}`),
      ),
    ),
  },
);

const query = fc.oneof(
  fc.constant(""),
  fc.constantFrom(
    "?limit=0",
    "?limit=-1",
    "?limit=abc",
    "?limit=99999",
    "?cursor=zzz",
    "?status=nope",
    "?since=-3",
  ),
  fc.constantFrom("?since=1&since=2", "?reason=x", "?x=1", "?status=active&limit=1"),
  fc
    .dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 })
    .map((d) => {
      const text = new URLSearchParams(d).toString();
      return text ? `?${text}` : "";
    }),
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 40 }),
  fc.constantFrom("{", "[]", "null", "{}", '{"text":""}', '{"text":1}', '{"text":"echo hi","x":1}'),
  fc.constantFrom('{"owner":"bob"}', '{"__proto__":{}}', '{"reason":5}', '{"timeoutMs":-1,"text":"hi"}'),
  fc.nat({ max: 3 }).map((n) => `{"text":"${"y".repeat(2000 * (n + 1))}"}`),
);

const request = fc.record({
  endpoint,
  query,
  body,
  token: fc.oneof({ weight: 8, arbitrary: fc.constant(ALICE) }, fc.constantFrom(BOB, "", "garbage")),
  contentType: fc.oneof(
    { weight: 4, arbitrary: fc.constant("application/json") },
    fc.constantFrom("text/plain", undefined),
  ),
  accept: fc.constantFrom("application/json", "text/event-stream", undefined),
  lastEventId: fc.option(fc.constantFrom("0", "3", "x", "-1", "99999999999999999999"), { nil: undefined }),
});

describe("HTTP API under generated requests", () => {
  it("never answers 500, always answers an error as JSON with a code, and a refused request changes nothing", {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const [method, route] = r.endpoint;
        const path = route.replace("MINE", mine).replace("THEIRS", theirs) + r.query;
        const headers: Record<string, string> = {};
        if (r.token) headers.authorization = `Bearer ${r.token}`;
        if (r.contentType) headers["content-type"] = r.contentType;
        if (r.accept) headers.accept = r.accept;
        if (r.lastEventId !== undefined) headers["last-event-id"] = r.lastEventId;
        const sendsBody = r.body !== undefined && method !== "GET";
        const before = await snapshot();
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), 10_000);
        try {
          const response = await fetch(`${server.url}${path}`, {
            method,
            headers,
            signal: controller.signal,
            ...(sendsBody ? { body: typeof r.body === "string" ? r.body : JSON.stringify(r.body) } : {}),
          });
          assert.ok(response.status < 500, `${method} ${path} answered ${response.status}`);
          if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
            // A stream that opened: its first bytes, then the connection dropped (a turn it
            // started is cancelled, which is a change a 200 may make).
            await response.body?.getReader().read();
            controller.abort();
            await settled();
            return;
          }
          const text = await response.text();
          if (response.status >= 400) {
            const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
            assert.equal(typeof parsed.error?.code, "string", text);
            assert.equal(typeof parsed.error?.message, "string", text);
            assert.equal(await snapshot(), before, `${method} ${path} was refused but changed state`);
          }
        } finally {
          clearTimeout(timer);
        }
      }),
      { numRuns: 300 },
    );
  });
});
