/** One server-sent event: its name, its id (what `Last-Event-ID` brings back) and its data as JSON. */
export interface SseEvent {
  event?: string;
  id?: number | string;
  data: unknown;
}

/** The writing end of one SSE response. */
export interface SseWriter {
  /** Queues an event; false when the stream is closed (the client left, or it was closed). */
  send(event: SseEvent): boolean;
  /** Ends the stream (idempotent). */
  close(): void;
  readonly closed: boolean;
  /** Runs once the stream ends, however it ends (the client disconnecting included); at once if it has. */
  onClose(callback: () => void): void;
}

export interface SseOptions {
  /** The request's signal: it aborts when the client closes the connection. */
  signal: AbortSignal;
  /** A comment line is sent this often (ms), so that proxies and clients keep an idle stream. */
  heartbeatMs: number;
  /** Events queued for a client that does not read at most; past it the stream is closed. */
  maxQueued: number;
  /** Called when the stream is set up, with its writer (its errors close the stream). */
  start: (writer: SseWriter) => void | Promise<void>;
  status?: number;
}

const encoder = new TextEncoder();

/** The text of one event. JSON has no raw line breaks, so `data` is always one line. */
export function formatSseEvent(event: SseEvent): string {
  let text = "";
  if (event.event !== undefined) text += `event: ${oneLine(event.event)}\n`;
  if (event.id !== undefined) text += `id: ${oneLine(String(event.id))}\n`;
  return `${text}data: ${JSON.stringify(event.data, plainData) ?? "null"}\n\n`;
}

/** What JSON cannot show as it is: an error as its name, code and message, a BigInt as text. */
function plainData(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(typeof code === "string" ? { code } : {}) };
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]/g, " ");
}

/**
 * A `text/event-stream` response fed by `start`'s writer. The stream ends when the writer
 * closes it, when the client goes (the response body is cancelled, or the request's signal
 * aborts), or when a client reads so slowly that `maxQueued` events wait for it (it is told
 * with an `error` event and can resume by `Last-Event-ID`). Every `onClose` callback then runs
 * once: that is where a subscription is dropped or a turn cancelled.
 */
export function sseResponse(options: SseOptions): Response {
  const closers: (() => void)[] = [];
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let closed = false;
  let heartbeat: NodeJS.Timeout | undefined;

  const finish = () => {
    if (closed) return;
    closed = true;
    if (heartbeat) clearInterval(heartbeat);
    options.signal.removeEventListener("abort", finish);
    try {
      controller?.close();
    } catch {
      // Already cancelled by the client.
    }
    for (const callback of closers.splice(0)) {
      try {
        callback();
      } catch {
        // A closer's failure must not keep the others from running.
      }
    }
  };

  const enqueue = (text: string): boolean => {
    if (closed || !controller) return false;
    const size = controller.desiredSize;
    if (size !== null && size < -options.maxQueued) {
      controller.enqueue(
        encoder.encode(
          formatSseEvent({
            event: "error",
            data: {
              error: {
                code: "too_slow",
                message: "the client did not keep up with the stream; reconnect with Last-Event-ID",
              },
            },
          }),
        ),
      );
      finish();
      return false;
    }
    controller.enqueue(encoder.encode(text));
    return true;
  };

  const writer: SseWriter = {
    send: (event) => enqueue(formatSseEvent(event)),
    close: finish,
    get closed() {
      return closed;
    },
    onClose(callback) {
      if (closed) callback();
      else closers.push(callback);
    },
  };

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      // An opening comment, so the client sees the stream at once (and the headers are sent).
      c.enqueue(encoder.encode(": stream open\n\n"));
      if (options.signal.aborted) {
        finish();
      } else {
        options.signal.addEventListener("abort", finish, { once: true });
        heartbeat = setInterval(() => enqueue(": ping\n\n"), options.heartbeatMs);
        heartbeat.unref();
      }
      // Started even when the client is gone already, so that its onClose callbacks run.
      Promise.resolve()
        .then(() => options.start(writer))
        .catch(() => finish());
    },
    cancel() {
      finish();
    },
  });

  return new Response(body, {
    status: options.status ?? 200,
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      "X-Accel-Buffering": "no",
    },
  });
}
