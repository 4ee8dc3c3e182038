import { createParser } from "eventsource-parser";
import type { TreeNode } from "../server/schemas.js";
import type { ConversationTurn, SessionEvent, TurnReply } from "../session/index.js";
import { CliError } from "./output.js";

/** A session as the HTTP API answers it (SessionInfo as JSON, plus its owner when it has one). */
export interface SessionJson {
  id: string;
  name?: string;
  status: string;
  restarts: number;
  createdAt: string;
  [key: string]: unknown;
}

/** One process of the supervision tree, as `GET /v1/tree` answers it. */
export type { TreeNode };

export type FetchLike = (request: Request) => Response | Promise<Response>;

/** Sessions asked for per page when listing (the server's largest page by default). */
const PAGE_SIZE = 500;

/**
 * The HTTP API, spoken with `fetch`: against a server at a URL, or against an app's fetch
 * handler in this process (the embedded mode), the same requests and the same answers either
 * way. An error answer (`{ error: { code, message } }`) is thrown as a CliError with its code.
 */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly fetcher: FetchLike,
    private readonly token: string | undefined,
  ) {}

  /** A client of the server at `url` (http or https), with a bearer token or none. */
  static remote(url: string, token: string | undefined): ApiClient {
    return new ApiClient(url.replace(/\/+$/, ""), (request) => fetch(request), token);
  }

  async listSessions(status?: string): Promise<SessionJson[]> {
    const sessions: SessionJson[] = [];
    let cursor: string | undefined;
    do {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (status !== undefined) query.set("status", status);
      if (cursor !== undefined) query.set("cursor", cursor);
      const page = (await this.request("GET", `/v1/sessions?${query}`)) as {
        sessions: SessionJson[];
        nextCursor?: string;
      };
      sessions.push(...page.sessions);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return sessions;
  }

  async createSession(config: Record<string, unknown>): Promise<SessionJson> {
    return (await this.request("POST", "/v1/sessions", config)) as SessionJson;
  }

  async getSession(id: string): Promise<SessionJson> {
    return (await this.request("GET", `/v1/sessions/${encodeURIComponent(id)}`)) as SessionJson;
  }

  async terminateSession(id: string): Promise<void> {
    await this.request("DELETE", `/v1/sessions/${encodeURIComponent(id)}`);
  }

  async restoreSession(id: string): Promise<SessionJson> {
    return (await this.request("POST", `/v1/sessions/${encodeURIComponent(id)}/restore`, {})) as SessionJson;
  }

  async hibernateSession(id: string): Promise<void> {
    await this.request("POST", `/v1/sessions/${encodeURIComponent(id)}/hibernate`, {});
  }

  async wakeSession(id: string): Promise<SessionJson> {
    return (await this.request("POST", `/v1/sessions/${encodeURIComponent(id)}/wake`, {})) as SessionJson;
  }

  async exportSession(id: string): Promise<unknown> {
    return this.request("GET", `/v1/sessions/${encodeURIComponent(id)}/export`);
  }

  async importSession(document: unknown): Promise<SessionJson> {
    return (await this.request("POST", "/v1/sessions/import", document)) as SessionJson;
  }

  /** Sends a message and waits for the reply; aborting `signal` closes the request, which cancels the turn. */
  async sendMessage(id: string, text: string, signal?: AbortSignal): Promise<TurnReply> {
    return (await this.request(
      "POST",
      `/v1/sessions/${encodeURIComponent(id)}/messages`,
      { text },
      signal,
    )) as TurnReply;
  }

  async history(id: string): Promise<ConversationTurn[]> {
    const answer = (await this.request("GET", `/v1/sessions/${encodeURIComponent(id)}/history`)) as {
      turns: ConversationTurn[];
    };
    return answer.turns;
  }

  async approveToolCall(id: string, callId: string): Promise<void> {
    await this.request(
      "POST",
      `/v1/sessions/${encodeURIComponent(id)}/tool-calls/${encodeURIComponent(callId)}/approve`,
      {},
    );
  }

  async denyToolCall(id: string, callId: string, reason: string): Promise<void> {
    await this.request(
      "POST",
      `/v1/sessions/${encodeURIComponent(id)}/tool-calls/${encodeURIComponent(callId)}/deny`,
      { reason },
    );
  }

  /** `POST /v1/processes/:pid/kill`: an untrappable kill (a server in development mode only: 404 otherwise). */
  async killProcess(pid: string): Promise<void> {
    await this.request("POST", `/v1/processes/${encodeURIComponent(pid)}/kill`, {});
  }

  /**
   * Opens `GET /v1/events` (every event of the caller's sessions, after `lastEventId` if given);
   * resolves once the server has answered, with a `read` that gives each event and its id to
   * `onEvent` in order until `signal` aborts or the server ends the stream (an `events_lost`
   * comes as an event of that type). An error answer rejects as the other requests do.
   */
  async openEvents(
    signal: AbortSignal,
    lastEventId?: string,
  ): Promise<{ read(onEvent: (event: SessionEvent, id: string | undefined) => void): Promise<void> }> {
    const path =
      lastEventId === undefined ? "/v1/events" : `/v1/events?since=${encodeURIComponent(lastEventId)}`;
    const response = await this.send("GET", path, undefined, signal, "text/event-stream");
    if (!response.ok) throw await failure(response, "GET", "/v1/events");
    const body = response.body;
    return {
      async read(onEvent) {
        if (!body) return;
        const parser = createParser({
          onEvent: (message) => {
            let event: SessionEvent;
            try {
              event = JSON.parse(message.data) as SessionEvent;
            } catch {
              return;
            }
            onEvent(event, message.id);
          },
        });
        const decoder = new TextDecoder();
        const reader = body.getReader();
        // Cancelled here, not left to the fetch's abort: a body that missed the abort (seen once
        // in many runs of the chat tests) kept its reader waiting, and the chat's close with it.
        const cancel = () => void reader.cancel().catch(() => {});
        if (signal.aborted) return cancel();
        signal.addEventListener("abort", cancel, { once: true });
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            parser.feed(decoder.decode(value, { stream: true }));
          }
        } catch (error) {
          if (!signal.aborted) throw error;
        } finally {
          signal.removeEventListener("abort", cancel);
        }
      },
    };
  }

  async tree(): Promise<{ root: TreeNode }> {
    return (await this.request("GET", "/v1/tree")) as { root: TreeNode };
  }

  /** `GET /readyz`: the status, and the body's own status word. */
  async ready(): Promise<{ status: number; body: unknown }> {
    const response = await this.send("GET", "/readyz");
    return { status: response.status, body: await response.json().catch(() => undefined) };
  }

  private async request(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const response = await this.send(method, path, body, signal);
    if (!response.ok) throw await failure(response, method, path);
    if (response.status === 204) return undefined;
    const text = await response.text();
    try {
      return text === "" ? undefined : JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    accept = "application/json",
  ): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    if (signal) init.signal = signal;
    try {
      return await this.fetcher(new Request(`${this.baseUrl}${path}`, init));
    } catch (error) {
      if (error instanceof CliError) throw error;
      if (signal?.aborted) throw signal.reason ?? error;
      // fetch's own message is "fetch failed"; the reason (ECONNREFUSED …) is in its cause.
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why =
        typeof cause?.code === "string" ? cause.code : String(cause?.message ?? (error as Error).message);
      throw new CliError(1, `cannot reach ${this.baseUrl}: ${why}`, "unreachable");
    }
  }
}

/** An error answer as a CliError: its `{ error: { code, message } }` if it has one, else its status. */
async function failure(response: Response, method: string, path: string): Promise<CliError> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await response.text());
  } catch {
    parsed = undefined;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (error && typeof error.code === "string")
    return new CliError(1, String(error.message ?? ""), error.code);
  return new CliError(
    1,
    `${method} ${path} answered ${response.status} ${response.statusText}`,
    "http_error",
  );
}
