import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A model server on loopback that speaks the two wire formats the AI SDK backends use:
 * OpenAI chat completions (`…/chat/completions`, which OpenAI-compatible servers share) and
 * Anthropic messages (`…/messages`), both streamed as server-sent events. Tests reach it over a
 * real HTTP connection, so what they see (headers sent, a connection closed on abort, retries)
 * is what a real server would see.
 *
 * The first path segment picks the behaviour, so one server serves them all:
 * `/ok/v1` streams `reply` word by word; `/stall/v1` sends two words, then waits `stallMs`;
 * `/fail/v1` answers with the queued failures first (see `failNext`), then as `/ok`.
 */
export interface RecordedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

export interface Failure {
  status: number;
  headers?: Record<string, string>;
}

export interface ModelServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Requests whose client closed the connection before the reply ended. */
  readonly closedEarly: () => number;
  reply: string;
  finishReason: "stop" | "length";
  failNext(...failures: Failure[]): void;
  /** Drops queued failures a test left unused (its request never reached the server). */
  clearFailures(): void;
  /** Resolves once the server has received more than `count` requests. */
  waitForRequests(count: number): Promise<void>;
  close(): Promise<void>;
}

const words = (text: string) => text.split(/(?<= )/);

export async function startModelServer(options: { stallMs?: number } = {}): Promise<ModelServer> {
  const stallMs = options.stallMs ?? 10_000;
  const requests: RecordedRequest[] = [];
  const failures: Failure[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let closedEarly = 0;

  const state = {
    reply: "Supervisors restart what fails.",
    finishReason: "stop" as "stop" | "length",
  };

  const server = createServer(async (req, res) => {
    const body = await readJson(req);
    const path = req.url ?? "";
    requests.push({ path, headers: req.headers, body });
    res.on("close", () => {
      if (!res.writableFinished) closedEarly++;
    });
    const mode = path.split("/")[1];
    if (mode === "fail" && failures.length > 0) {
      const failure = failures.shift()!;
      res.writeHead(failure.status, { "content-type": "application/json", ...failure.headers });
      res.end(JSON.stringify({ error: { message: `scripted ${failure.status}`, type: "server_error" } }));
      return;
    }
    const format = path.endsWith("/chat/completions")
      ? openAiEvents
      : path.endsWith("/messages")
        ? anthropicEvents
        : undefined;
    if (!format) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const events = format(String(body.model ?? "model"), words(state.reply), state.finishReason);
    for (let i = 0; i < events.length; i++) {
      if (res.destroyed) return;
      if (mode === "stall" && i === 3) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, stallMs);
          timers.add(timer);
          res.on("close", () => {
            clearTimeout(timer);
            resolve();
          });
        });
        if (res.destroyed) return;
      }
      res.write(events[i]);
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    closedEarly: () => closedEarly,
    get reply() {
      return state.reply;
    },
    set reply(text: string) {
      state.reply = text;
    },
    get finishReason() {
      return state.finishReason;
    },
    set finishReason(reason: "stop" | "length") {
      state.finishReason = reason;
    },
    failNext: (...more) => failures.push(...more),
    clearFailures: () => {
      failures.length = 0;
    },
    waitForRequests: async (count) => {
      while (requests.length <= count) await new Promise((resolve) => setTimeout(resolve, 5));
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) text += chunk;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const sse = (data: unknown, event?: string) =>
  `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;

function openAiEvents(model: string, parts: string[], finish: "stop" | "length"): string[] {
  const chunk = (choices: unknown[], extra: object = {}) =>
    sse({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 0, model, choices, ...extra });
  return [
    chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
    ...parts.map((text) => chunk([{ index: 0, delta: { content: text }, finish_reason: null }])),
    chunk([{ index: 0, delta: {}, finish_reason: finish }]),
    chunk([], {
      usage: { prompt_tokens: 21, completion_tokens: parts.length, total_tokens: 21 + parts.length },
    }),
    sse("[DONE]"),
  ];
}

function anthropicEvents(model: string, parts: string[], finish: "stop" | "length"): string[] {
  return [
    sse(
      {
        type: "message_start",
        message: {
          id: "msg_1",
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 21, output_tokens: 0 },
        },
      },
      "message_start",
    ),
    sse(
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      "content_block_start",
    ),
    ...parts.map((text) =>
      sse(
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } },
        "content_block_delta",
      ),
    ),
    sse({ type: "content_block_stop", index: 0 }, "content_block_stop"),
    sse(
      {
        type: "message_delta",
        delta: { stop_reason: finish === "length" ? "max_tokens" : "end_turn", stop_sequence: null },
        usage: { output_tokens: parts.length },
      },
      "message_delta",
    ),
    sse({ type: "message_stop" }, "message_stop"),
  ];
}
