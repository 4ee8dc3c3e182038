import { type SseMessage, SseParser } from "./sse-parser.js";

const TOKEN_KEY = "sessionvisor.observer.token";

/** An answer other than 2xx, with the API's error code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The bearer token, kept for this tab only (sessionStorage): never in a URL, never in a cookie. */
export const token = {
  get(): string | undefined {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  },
  set(value: string): void {
    sessionStorage.setItem(TOKEN_KEY, value.trim());
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** Told when the server refuses the token (or asks for one): the page shows the token form. */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(callback: () => void): void {
  onUnauthorized = callback;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const bearer = token.get();
  return { ...extra, ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}) };
}

async function failure(response: Response): Promise<ApiError> {
  let code = "http_error";
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch {
    // Not the API's JSON error: the status says enough.
  }
  if (response.status === 401) onUnauthorized();
  return new ApiError(response.status, code, message);
}

/** One JSON request to the API; ApiError for any answer but 2xx. */
export async function api<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export interface StreamOptions {
  onMessage: (message: SseMessage) => void;
  /** Connected (again): the stream's first bytes arrived. */
  onOpen?: () => void;
  /** Lost: it reconnects by itself unless the server said no (401, 404) or the stream ended for good (204). */
  onDown?: (error: unknown) => void;
  /** Resume from this event id when reconnecting (a session's stream numbers its events). */
  resume?: boolean;
}

/**
 * Reads an SSE route with fetch, so that the token goes in the Authorization header
 * (EventSource cannot send headers, and a token in the URL would end up in logs). Reconnects
 * after a drop, with `Last-Event-ID` when `resume` is set. Returns the function that stops it.
 */
export function stream(path: string, options: StreamOptions): () => void {
  const controller = new AbortController();
  let lastId: string | undefined;
  let delayMs = 500;

  const run = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch(path, {
          headers: headers({
            Accept: "text/event-stream",
            ...(options.resume && lastId !== undefined ? { "Last-Event-ID": lastId } : {}),
          }),
          signal: controller.signal,
        });
        if (response.status === 204) return;
        if (!response.ok || !response.body) {
          const error = await failure(response);
          options.onDown?.(error);
          if (response.status === 401 || response.status === 404 || response.status === 400) return;
          throw error;
        }
        options.onOpen?.();
        delayMs = 500;
        const parser = new SseParser();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const message of parser.push(value)) {
            if (message.id !== undefined) lastId = message.id;
            options.onMessage(message);
          }
        }
        options.onDown?.(new Error("the stream ended"));
      } catch (error) {
        if (controller.signal.aborted) return;
        options.onDown?.(error);
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, 10_000);
    }
  };
  void run();
  return () => controller.abort();
}
