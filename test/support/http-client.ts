// The HTTP tests' client side: JSON requests with an owner's token, and SSE responses read one
// event at a time. Every stream opened is dropped by `closeOpenStreams` (each test file's
// teardown), even when its test failed.
import assert from "node:assert/strict";

const open = new Set<AbortController>();

/** An abort controller for a request of the test's own, dropped by `closeOpenStreams`. */
export function streamController(): AbortController {
  const controller = new AbortController();
  open.add(controller);
  return controller;
}

/** Drops every SSE connection opened since the last call. */
export function closeOpenStreams(): void {
  for (const controller of open) controller.abort();
  open.clear();
}

export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, read by the fields each test expects.
  body: any;
}

/** One request; the body sent as JSON unless it is a string already. */
export async function call(
  url: string,
  method: string,
  path: string,
  options: { token?: string | undefined; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const response = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** A client bound to one owner's token. */
export function client(url: string, token: string | undefined) {
  return {
    get: (path: string) => call(url, "GET", path, { token }),
    post: (path: string, body?: unknown) => call(url, "POST", path, { token, body }),
    delete: (path: string) => call(url, "DELETE", path, { token }),
  };
}

export interface SseMessage {
  event: string | undefined;
  id: string | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON event, read by the fields each test expects.
  data: any;
}

/** An open SSE response, read one event at a time; `close` drops the connection. */
export class SseReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private buffer = "";
  private pending: ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]> | undefined;
  private readonly decoder = new TextDecoder();

  constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {
    assert.ok(response.body, "an SSE response has a body");
    this.reader = response.body.getReader();
  }

  /** The next event, or undefined once the stream has ended. */
  async next(ms = 5000): Promise<SseMessage | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = this.buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const message = parseBlock(block);
        if (message) return message;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SSE event within ${ms} ms`);
      let timer: NodeJS.Timeout | undefined;
      // A read that outlives a timeout is kept for the next call, so no chunk is lost.
      this.pending ??= this.reader.read();
      const chunk = await Promise.race([
        this.pending,
        new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), left);
        }),
      ]);
      clearTimeout(timer);
      if (chunk === "timeout") throw new Error(`no SSE event within ${ms} ms`);
      this.pending = undefined;
      if (chunk.done) return undefined;
      this.buffer += this.decoder.decode(chunk.value, { stream: true });
    }
  }

  /** Events up to and including the first that `until` accepts. */
  async readUntil(until: (m: SseMessage) => boolean, ms = 5000): Promise<SseMessage[]> {
    const seen: SseMessage[] = [];
    for (;;) {
      const message = await this.next(ms);
      if (!message) throw new Error(`the stream ended after ${JSON.stringify(seen.map((m) => m.event))}`);
      seen.push(message);
      if (until(message)) return seen;
    }
  }

  /** Whether the stream ends (the server closed it) within `ms`, skipping events. */
  async ends(ms = 5000): Promise<boolean> {
    try {
      while ((await this.next(ms)) !== undefined) {}
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.controller.abort();
  }
}

function parseBlock(block: string): SseMessage | undefined {
  let event: string | undefined;
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return undefined;
  return { event, id, data: JSON.parse(data.join("\n")) };
}

/** Opens an SSE request; the response must be a stream. */
export async function openSse(
  url: string,
  path: string,
  options: {
    token?: string | undefined;
    method?: string;
    body?: unknown;
    headers?: Record<string, string>;
  } = {},
): Promise<SseReader> {
  const controller = streamController();
  const headers: Record<string, string> = { accept: "text/event-stream", ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${url}${path}`, {
    method: options.method ?? "GET",
    headers,
    signal: controller.signal,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  assert.equal(response.status, 200, `SSE ${path}: ${response.status} ${await peek(response)}`);
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  return new SseReader(response, controller);
}

async function peek(response: Response): Promise<string> {
  return response.status === 200 ? "" : await response.text();
}
