// A session's events over WebSocket (`/v1/sessions/<id>/events/ws`), with the `ws` client over
// a real socket: the same events as the SSE route, resumable with `?since=`, the same owners.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import WebSocket from "ws";
import type { RunningServer, SessionEvent, SessionSystem } from "../src/index.js";
import { ALICE, BOB, serversForTests } from "./support/http-servers.js";

const T = { timeout: 30_000 };
const start = serversForTests();
const sockets: WebSocket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.terminate();
});

async function started(): Promise<{ url: string; system: SessionSystem; server: RunningServer }> {
  return start({ closeGraceMs: 1000 });
}

async function created(url: string, token: string): Promise<string> {
  const answer = await fetch(`${url}/v1/sessions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: "{}",
  });
  return ((await answer.json()) as { id: string }).id;
}

/** Opens the socket; resolves once open, with the events it receives collected. */
function listen(url: string, path: string, token: string) {
  const events: SessionEvent[] = [];
  const socket = new WebSocket(`${url.replace("http", "ws")}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  sockets.push(socket);
  const waiters: (() => void)[] = [];
  socket.on("message", (data) => {
    events.push(JSON.parse(String(data)) as SessionEvent);
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
  const opened = new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    socket.once("error", reject);
  });
  const until = async (test: () => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`no such events within ${ms} ms: ${JSON.stringify(events)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  return { socket, events, opened, closed, until };
}

describe("a session's events over WebSocket", () => {
  it("delivers the events of a turn as JSON frames, each with its seq", T, async () => {
    const { url, system } = await started();
    const id = await created(url, ALICE);
    const ws = listen(url, `/v1/sessions/${id}/events/ws`, ALICE);
    await ws.opened;
    await system.sendMessage(id, "echo over the socket");
    await ws.until(() => ws.events.some((e) => e.type === "llm_done"));
    const done = ws.events.find((e) => e.type === "llm_done");
    assert.ok(done?.type === "llm_done" && done.text === "over the socket");
    assert.ok(ws.events.every((e) => Number.isInteger(e.seq)));
  });

  it("resumes after ?since= with the kept events that followed, none twice", T, async () => {
    const { url, system } = await started();
    const id = await created(url, ALICE);
    await system.sendMessage(id, "echo first");
    const all = listen(url, `/v1/sessions/${id}/events/ws?since=0`, ALICE);
    await all.opened;
    await all.until(() => all.events.some((e) => e.type === "llm_done"));
    const cut = all.events.find((e) => e.type === "turn_started")?.seq as number;
    const resumed = listen(url, `/v1/sessions/${id}/events/ws?since=${cut}`, ALICE);
    await resumed.opened;
    await resumed.until(() => resumed.events.some((e) => e.type === "llm_done"));
    const kept = all.events.filter((e) => e.type !== "llm_delta" && e.seq > cut).map((e) => e.seq);
    assert.deepEqual(
      resumed.events.filter((e) => e.type !== "llm_delta").map((e) => e.seq),
      kept,
    );
  });

  it("refuses another owner's session with the same 404 as a missing one", T, async () => {
    const { url } = await started();
    const id = await created(url, ALICE);
    await assert.rejects(listen(url, `/v1/sessions/${id}/events/ws`, BOB).opened, /HTTP 404/);
    await assert.rejects(
      listen(url, "/v1/sessions/session_00000000-0000-4000-8000-000000000000/events/ws", ALICE).opened,
      /HTTP 404/,
    );
  });

  it("refuses a socket without a valid token", T, async () => {
    const { url } = await started();
    const id = await created(url, ALICE);
    await assert.rejects(listen(url, `/v1/sessions/${id}/events/ws`, "svt_not_a_token").opened, /HTTP 401/);
  });

  it("ends the socket when the session is terminated, after its session_terminated", T, async () => {
    const { url, system } = await started();
    const id = await created(url, ALICE);
    const ws = listen(url, `/v1/sessions/${id}/events/ws`, ALICE);
    await ws.opened;
    await system.terminateSession(id);
    assert.equal(await ws.closed, 1000);
    assert.equal(ws.events.at(-1)?.type, "session_terminated");
  });

  it("closes open sockets with 1001 when the server closes", T, async () => {
    const { url, server } = await started();
    const id = await created(url, ALICE);
    const ws = listen(url, `/v1/sessions/${id}/events/ws`, ALICE);
    await ws.opened;
    await server.close();
    assert.equal(await ws.closed, 1001);
  });

  it("sends on /v1/events/ws the events of the caller's sessions only", T, async () => {
    const { url, system } = await started();
    const mine = await created(url, ALICE);
    const theirs = await created(url, BOB);
    const ws = listen(url, "/v1/events/ws", ALICE);
    await ws.opened;
    await system.sendMessage(theirs, "echo not for alice");
    await system.sendMessage(mine, "echo for alice");
    await ws.until(() => ws.events.some((e) => e.type === "llm_done" && e.sessionId === mine));
    assert.ok(
      ws.events.every((e) => e.sessionId === mine),
      JSON.stringify(ws.events.map((e) => e.sessionId)),
    );
  });

  it("resumes /v1/events/ws after ?since=<globalId> with exactly the events missed", T, async () => {
    const { url, system } = await started();
    const id = await created(url, ALICE);
    const first = listen(url, "/v1/events/ws", ALICE);
    await first.opened;
    await system.sendMessage(id, "echo one");
    await first.until(() => first.events.some((e) => e.type === "llm_done"));
    const last = first.events.at(-1) as SessionEvent & { globalId: string };
    assert.match(last.globalId, /^[0-9a-f]{8}\.\d+$/);
    first.socket.close();
    await first.closed;

    const missed: SessionEvent[] = [];
    const watching = system.subscribeAll((event) => missed.push(event));
    await system.sendMessage(id, "echo two");
    watching.unsubscribe();
    const resumed = listen(url, `/v1/events/ws?since=${last.globalId}`, ALICE);
    await resumed.opened;
    await resumed.until(() => resumed.events.length >= missed.length);
    assert.deepEqual(
      resumed.events.map((e) => e.type),
      missed.map((e) => e.type),
    );
  });

  it("refuses /v1/events/ws with a malformed ?since= (400)", T, async () => {
    const { url } = await started();
    await assert.rejects(listen(url, "/v1/events/ws?since=nope", ALICE).opened, /HTTP 400/);
  });

  it("refuses /v1/events/ws without a valid token", T, async () => {
    const { url } = await started();
    await assert.rejects(listen(url, "/v1/events/ws", "svt_not_a_token").opened, /HTTP 401/);
  });
});
