// The HTTP server's benchmark: requests per second for a session create and a message (offline
// model) through `serve`, beside a bare hono handler that does nothing, on the same machine in
// the same run; and one session's events fanned out to 1,000 SSE subscribers (delivery
// latency). Client and server share this process and its two cores: read the ratios.
import { performance } from "node:perf_hooks";
import { serve as serveNode } from "@hono/node-server";
import { Hono } from "hono";
import { MemorySessionStore, SessionSystem, serve, silentLogger } from "../src/index.js";
import { percentile } from "./stats.js";
import { type Figure, renderTable } from "./table.js";

const CONCURRENCY = 32;
const RUN_MS = 3000;
const SUBSCRIBERS = 1000;
const FANOUT_MESSAGES = 20;

export interface ServerFigures {
  bareRps: number;
  createRps: number;
  sendRps: number;
  fanout: { subscribers: number; deliveries: number; p50Ms: number; p99Ms: number; maxMs: number };
}

/** Requests `make()` from CONCURRENCY clients for RUN_MS; answers per second. */
async function load(make: () => Promise<Response>): Promise<number> {
  const until = performance.now() + RUN_MS;
  let done = 0;
  const worker = async () => {
    while (performance.now() < until) {
      const response = await make();
      if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return done / ((performance.now() - started) / 1000);
}

const JSON_HEADERS = { "content-type": "application/json" };

export async function measureServer(): Promise<ServerFigures> {
  // Node's own fetch (undici underneath) keeps its connections alive between requests.
  const post = (url: string, body: unknown) =>
    fetch(url, { method: "POST", headers: JSON_HEADERS, body: JSON.stringify(body) });

  // A bare hono handler that parses the JSON body and answers: the floor of any hono route.
  const bare = new Hono();
  bare.post("/x", async (c) => c.json({ ok: true, got: await c.req.json() }));
  const bareServer = serveNode({ fetch: bare.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => bareServer.once("listening", () => resolve()));
  const barePort = (bareServer.address() as { port: number }).port;
  await load(() => post(`http://127.0.0.1:${barePort}/x`, { text: "echo hi" }));
  const bareRps = await load(() => post(`http://127.0.0.1:${barePort}/x`, { text: "echo hi" }));
  await new Promise<void>((resolve) => bareServer.close(() => resolve()));

  const system = await SessionSystem.start({
    logger: silentLogger(),
    store: new MemorySessionStore(),
    maxSessions: 200_000,
    idleSweepMs: 60_000,
  });
  const server = await serve({
    system,
    port: 0,
    logger: silentLogger(),
    // The bench measures the server, not its per-owner limits.
    limits: { maxMessagesPerMinute: 10_000_000, maxStreamsPerOwner: SUBSCRIBERS + 10 },
  });
  try {
    const base = server.url;
    await load(() => post(`${base}/v1/sessions`, {}));
    const createRps = await load(() => post(`${base}/v1/sessions`, {}));
    const ids: string[] = [];
    for (let i = 0; i < CONCURRENCY * 4; i++) {
      const made = (await (await post(`${base}/v1/sessions`, {})).json()) as { id: string };
      ids.push(made.id);
    }
    let next = 0;
    const send = () => post(`${base}/v1/sessions/${ids[next++ % ids.length]}/messages`, { text: "echo hi" });
    await load(send);
    const sendRps = await load(send);
    const fanout = await measureFanout(base, post);
    return { bareRps, createRps, sendRps, fanout };
  } finally {
    await server.close();
    await system.stop();
  }
}

/**
 * SUBSCRIBERS SSE streams of one session's events; FANOUT_MESSAGES turns; for each turn's
 * `turn_started`, the delay from the message being sent to each subscriber reading the event.
 */
async function measureFanout(
  base: string,
  post: (url: string, body: unknown) => Promise<Response>,
): Promise<ServerFigures["fanout"]> {
  const { id } = (await (await post(`${base}/v1/sessions`, {})).json()) as { id: string };
  const sentAt = new Map<string, number>();
  const delays: number[] = [];
  const controllers: AbortController[] = [];
  let ready = 0;
  const readers = Array.from({ length: SUBSCRIBERS }, async () => {
    const controller = new AbortController();
    controllers.push(controller);
    const response = await fetch(`${base}/v1/sessions/${id}/events`, {
      headers: { accept: "text/event-stream" },
      signal: controller.signal,
    });
    ready++;
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += decoder.decode(value, { stream: true });
        let end = buffered.indexOf("\n\n");
        while (end >= 0) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          end = buffered.indexOf("\n\n");
          if (!frame.includes("event: message_added")) continue;
          const data = frame.split("\n").find((line) => line.startsWith("data: "));
          const content = data
            ? (JSON.parse(data.slice(6)) as { turn?: { content?: string } }).turn?.content
            : undefined;
          const at = content === undefined ? undefined : sentAt.get(content);
          if (at !== undefined) delays.push(performance.now() - at);
        }
      }
    } catch {
      // Aborted at the end.
    }
  });
  while (ready < SUBSCRIBERS) await new Promise((resolve) => setTimeout(resolve, 10));
  for (let i = 0; i < FANOUT_MESSAGES; i++) {
    const text = `echo fan out ${i}`;
    sentAt.set(text, performance.now());
    await (await post(`${base}/v1/sessions/${id}/messages`, { text })).arrayBuffer();
  }
  const expected = SUBSCRIBERS * FANOUT_MESSAGES;
  const until = performance.now() + 20_000;
  while (delays.length < expected && performance.now() < until)
    await new Promise((resolve) => setTimeout(resolve, 20));
  for (const controller of controllers) controller.abort();
  await Promise.allSettled(readers);
  const sorted = Float64Array.from(delays).sort();
  return {
    subscribers: SUBSCRIBERS,
    deliveries: delays.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export function serverTable(f: ServerFigures): string {
  const figures: Figure[] = [
    {
      name: "POST a JSON body, bare hono handler",
      unit: "/s",
      ours: f.bareRps,
      otp: undefined,
      higherIsBetter: true,
    },
    {
      name: "POST /v1/sessions (create)",
      unit: "/s",
      ours: f.createRps,
      otp: f.bareRps,
      higherIsBetter: true,
    },
    {
      name: "POST …/messages (offline model, a whole turn)",
      unit: "/s",
      ours: f.sendRps,
      otp: f.bareRps,
      higherIsBetter: true,
    },
    {
      name: `SSE fan-out to ${f.fanout.subscribers.toLocaleString("en-US")} subscribers: deliveries`,
      unit: "",
      ours: f.fanout.deliveries,
      otp: undefined,
      higherIsBetter: true,
    },
    {
      name: "SSE fan-out: message sent → event read, median",
      unit: "ms",
      ours: f.fanout.p50Ms,
      otp: undefined,
      higherIsBetter: false,
    },
    {
      name: "SSE fan-out: message sent → event read, p99",
      unit: "ms",
      ours: f.fanout.p99Ms,
      otp: undefined,
      higherIsBetter: false,
    },
    {
      name: "SSE fan-out: message sent → event read, max",
      unit: "ms",
      ours: f.fanout.maxMs,
      otp: undefined,
      higherIsBetter: false,
    },
  ];
  return renderTable(
    `server: ${CONCURRENCY} clients for ${RUN_MS / 1000} s each, beside a bare hono handler (client and server in one process)`,
    figures,
    { name: "bare hono" },
  );
}
