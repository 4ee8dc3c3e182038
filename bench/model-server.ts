// A minimal OpenAI-compatible model server for the `llm` benchmark: `POST …/chat/completions`
// answers with a chat-completions SSE stream of N tokens, one chunk each, with an optional
// pause between tokens. The address picks both: `<url>/n20/d0/v1` streams 20 tokens with no
// pause, `<url>/n20/d5/v1` pauses 5 ms before each token after the first.
//
// The benchmark runs it in a child process (`forkModelServer`), as a real model server is
// another process: its work does not count against the event loop the benchmark measures.
import { type ChildProcess, fork } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

export interface BenchModelServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

/** The words of an n-token reply, each with its trailing space but the last. */
export function replyTokens(n: number): string[] {
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? `w${i}` : `w${i} `));
}

const sse = (data: unknown) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;

/** The whole event stream of an n-token reply, as the strings written one by one. */
function events(model: string, n: number): string[] {
  const chunk = (choices: unknown[], extra: object = {}) =>
    sse({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 0, model, choices, ...extra });
  const tokens = replyTokens(n);
  return [
    chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
    ...tokens.map((content) => chunk([{ index: 0, delta: { content }, finish_reason: null }])),
    chunk([{ index: 0, delta: {}, finish_reason: "stop" }]),
    chunk([], { usage: { prompt_tokens: 10, completion_tokens: n, total_tokens: 10 + n } }),
    sse("[DONE]"),
  ];
}

const cache = new Map<string, string[]>();

async function drain(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text;
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await drain(req);
  const match = /^\/n(\d+)\/d(\d+)\/.*\/chat\/completions$/.exec(req.url ?? "");
  if (req.method !== "POST" || !match) {
    res.writeHead(404).end();
    return;
  }
  const n = Number(match[1]);
  const delayMs = Number(match[2]);
  let model = "bench-model";
  try {
    model = String((JSON.parse(body) as { model?: unknown }).model ?? model);
  } catch {}
  const key = `${model}\0${n}`;
  let stream = cache.get(key);
  if (!stream) {
    stream = events(model, n);
    cache.set(key, stream);
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (let i = 0; i < stream.length; i++) {
    // A pause before each token after the first (events 2..n); the role chunk and the first
    // token go out at once, as a real server's first token follows its prefill.
    if (delayMs > 0 && i >= 2 && i <= n) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (res.destroyed) return;
    res.write(stream[i]);
  }
  res.end();
}

/** Starts the server in this process. */
export async function startModelServer(): Promise<BenchModelServer> {
  const server = createServer((req, res) => {
    answer(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Starts the server in a child process; `close` ends the child and waits for its exit. */
export async function forkModelServer(): Promise<BenchModelServer> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--serve"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    // The same loader as this process (tsx, when run from source).
    execArgv: process.execArgv,
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (message) => resolve((message as { port: number }).port));
    child.once("exit", (code) => reject(new Error(`the model server exited (${code}) before listening`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      child.kill();
      await exited;
    },
  };
}

if (process.argv.includes("--serve") && process.send) {
  const server = await startModelServer();
  process.send({ port: Number(new URL(server.url).port) });
  // The parent's end: its IPC channel closes when it exits, however it exits.
  process.on("disconnect", () => {
    void server.close().then(() => process.exit(0));
  });
}
