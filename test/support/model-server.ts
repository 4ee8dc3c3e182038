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
 * `/fail/v1` answers with the queued failures first (see `failNext`), then as `/ok`;
 * `/cut/v1` resets the connection right after the first piece of the first tool call's
 * arguments (of the text, when the reply calls no tool); `/unfinished/v1` ends the stream
 * cleanly at the same point, with no finish reason, stop event or `[DONE]`.
 *
 * Tool calls are scripted by the request: when its last message is the user's text (not tool
 * results), each line `tool <name> <args>` of it is a call the reply asks for (several lines:
 * parallel calls), and its other lines are the reply's text, sent first. `<args>` is sent as
 * the call's arguments verbatim (`{}` when empty; not JSON, to test a model that writes bad
 * JSON), streamed in three pieces, as the vendors stream them:
 * - OpenAI: `choices[0].delta.tool_calls[{index, id, type:"function", function:{name,
 *   arguments:""}}]`, then `{index, function:{arguments: piece}}` per piece, each call its own
 *   `index`; `finish_reason: "tool_calls"`, then the usage chunk and `[DONE]`.
 * - Anthropic: per call a `content_block_start` with `{type:"tool_use", id, name, input:{}}`,
 *   `content_block_delta`s with `{type:"input_json_delta", partial_json}` (the first one empty,
 *   as Anthropic sends it), `content_block_stop`; then `message_delta` with
 *   `stop_reason:"tool_use"` and the usage.
 * Call ids are `call_<request>_<i>` (OpenAI) or `toolu_<request>_<i>` (Anthropic): `<request>`
 * the request's number on this server from 1, `<i>` the call's from 1. Any other request (tool
 * results sent back included) gets `reply`. Usage: 21 input tokens; one output token per text
 * word and per argument piece.
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

/** A call the server was scripted to ask for, as it sent it. */
export interface ServedCall {
  id: string;
  name: string;
  /** The arguments text, as streamed (joined). */
  args: string;
}

/** How many pieces each call's arguments are streamed in. */
export const ARGUMENT_PIECES = 3;

export interface ModelServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** The tool calls each scripted reply asked for, in the order served. */
  readonly servedCalls: ServedCall[];
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

const words = (text: string) => (text.length > 0 ? text.split(/(?<= )/) : []);

const SCRIPT_LINE = /^\s*tool\s+(\S+)(?:[ \t]+(.*?))?\s*$/;

/** A string cut into `n` pieces (fewer when shorter) that join back to it. */
function pieces(text: string, n = ARGUMENT_PIECES): string[] {
  const size = Math.max(1, Math.ceil(text.length / n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/**
 * The user's text in the request's last message, or undefined when that message is not the
 * user's text (OpenAI `role:"tool"`, an Anthropic user message of `tool_result` blocks).
 */
function lastUserText(body: Record<string, unknown>): string | undefined {
  const last = (body.messages as { role?: string; content?: unknown }[] | undefined)?.at(-1);
  if (last?.role !== "user") return undefined;
  if (typeof last.content === "string") return last.content;
  if (!Array.isArray(last.content)) return undefined;
  const blocks = last.content as { type?: string; text?: string }[];
  if (blocks.some((b) => b.type === "tool_result")) return undefined;
  return blocks.map((b) => (b.type === "text" ? (b.text ?? "") : "")).join("");
}

interface Script {
  text: string;
  calls: { name: string; args: string }[];
}

function scriptOf(text: string | undefined): Script | undefined {
  if (text === undefined) return undefined;
  const calls: Script["calls"] = [];
  const other: string[] = [];
  for (const line of text.split("\n")) {
    const match = SCRIPT_LINE.exec(line);
    if (match) calls.push({ name: match[1] as string, args: match[2] || "{}" });
    else other.push(line);
  }
  return calls.length > 0 ? { text: other.join("\n").trim(), calls } : undefined;
}

/** What one reply holds: text words, then calls with their arguments in pieces. */
interface Reply {
  parts: string[];
  calls: { id: string; name: string; pieces: string[] }[];
  finish: "stop" | "length" | "tool_calls";
  usage: { input: number; output: number };
}

export async function startModelServer(options: { stallMs?: number } = {}): Promise<ModelServer> {
  const stallMs = options.stallMs ?? 10_000;
  const requests: RecordedRequest[] = [];
  const servedCalls: ServedCall[] = [];
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
    const number = requests.length;
    const script = scriptOf(lastUserText(body));
    const prefix = format === openAiEvents ? "call" : "toolu";
    const reply: Reply = script
      ? {
          parts: words(script.text),
          calls: script.calls.map((call, i) => ({
            id: `${prefix}_${number}_${i + 1}`,
            name: call.name,
            pieces: pieces(call.args),
          })),
          finish: "tool_calls",
          usage: { input: 21, output: 0 },
        }
      : { parts: words(state.reply), calls: [], finish: state.finishReason, usage: { input: 21, output: 0 } };
    reply.usage.output = reply.parts.length + reply.calls.reduce((sum, c) => sum + c.pieces.length, 0);
    for (const call of reply.calls)
      servedCalls.push({ id: call.id, name: call.name, args: call.pieces.join("") });
    const { events, firstPieceAt } = format(String(body.model ?? "model"), reply);
    for (let i = 0; i < events.length; i++) {
      if (res.destroyed) return;
      if ((mode === "cut" || mode === "unfinished") && i > firstPieceAt) {
        if (mode === "cut") res.destroy();
        else res.end();
        return;
      }
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
    servedCalls,
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

/** The events of a reply, and the index of the event with its first argument piece (else first word). */
interface Events {
  events: string[];
  firstPieceAt: number;
}

function openAiEvents(model: string, reply: Reply): Events {
  const chunk = (choices: unknown[], extra: object = {}) =>
    sse({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 0, model, choices, ...extra });
  const delta = (d: object) => chunk([{ index: 0, delta: d, finish_reason: null }]);
  const events = [delta({ role: "assistant", content: reply.calls.length > 0 ? null : "" })];
  let firstPieceAt = -1;
  for (const text of reply.parts) {
    events.push(delta({ content: text }));
    if (firstPieceAt < 0 && reply.calls.length === 0) firstPieceAt = events.length - 1;
  }
  reply.calls.forEach((call, index) => {
    events.push(
      delta({
        tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }],
      }),
    );
    for (const piece of call.pieces) {
      events.push(delta({ tool_calls: [{ index, function: { arguments: piece } }] }));
      if (firstPieceAt < 0) firstPieceAt = events.length - 1;
    }
  });
  events.push(
    chunk([{ index: 0, delta: {}, finish_reason: reply.finish }]),
    chunk([], {
      usage: {
        prompt_tokens: reply.usage.input,
        completion_tokens: reply.usage.output,
        total_tokens: reply.usage.input + reply.usage.output,
      },
    }),
    sse("[DONE]"),
  );
  return { events, firstPieceAt };
}

function anthropicEvents(model: string, reply: Reply): Events {
  const event = (type: string, data: object) => sse({ type, ...data }, type);
  const events = [
    event("message_start", {
      message: {
        id: "msg_1",
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: reply.usage.input, output_tokens: 0 },
      },
    }),
  ];
  let firstPieceAt = -1;
  let index = 0;
  if (reply.parts.length > 0 || reply.calls.length === 0) {
    events.push(event("content_block_start", { index, content_block: { type: "text", text: "" } }));
    for (const text of reply.parts) {
      events.push(event("content_block_delta", { index, delta: { type: "text_delta", text } }));
      if (firstPieceAt < 0 && reply.calls.length === 0) firstPieceAt = events.length - 1;
    }
    events.push(event("content_block_stop", { index }));
    index++;
  }
  for (const call of reply.calls) {
    events.push(
      event("content_block_start", {
        index,
        content_block: { type: "tool_use", id: call.id, name: call.name, input: {} },
      }),
      event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: "" } }),
    );
    for (const piece of call.pieces) {
      events.push(
        event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: piece } }),
      );
      if (firstPieceAt < 0) firstPieceAt = events.length - 1;
    }
    events.push(event("content_block_stop", { index }));
    index++;
  }
  const stopReason = { stop: "end_turn", length: "max_tokens", tool_calls: "tool_use" }[reply.finish];
  events.push(
    event("message_delta", {
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: reply.usage.output },
    }),
    event("message_stop", {}),
  );
  return { events, firstPieceAt };
}
