import type { TreeNode } from "../server/schemas.js";
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

  async exportSession(id: string): Promise<unknown> {
    return this.request("GET", `/v1/sessions/${encodeURIComponent(id)}/export`);
  }

  async importSession(document: unknown): Promise<SessionJson> {
    return (await this.request("POST", "/v1/sessions/import", document)) as SessionJson;
  }

  async tree(): Promise<{ root: TreeNode }> {
    return (await this.request("GET", "/v1/tree")) as { root: TreeNode };
  }

  /** `GET /readyz`: the status, and the body's own status word. */
  async ready(): Promise<{ status: number; body: unknown }> {
    const response = await this.send("GET", "/readyz");
    return { status: response.status, body: await response.json().catch(() => undefined) };
  }

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await this.send(method, path, body);
    if (response.status === 204) return undefined;
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      if (error && typeof error.code === "string") {
        throw new CliError(1, String(error.message ?? ""), error.code);
      }
      throw new CliError(
        1,
        `${method} ${path} answered ${response.status} ${response.statusText}`,
        "http_error",
      );
    }
    return parsed;
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    try {
      return await this.fetcher(new Request(`${this.baseUrl}${path}`, init));
    } catch (error) {
      if (error instanceof CliError) throw error;
      // fetch's own message is "fetch failed"; the reason (ECONNREFUSED …) is in its cause.
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why =
        typeof cause?.code === "string" ? cause.code : String(cause?.message ?? (error as Error).message);
      throw new CliError(1, `cannot reach ${this.baseUrl}: ${why}`, "unreachable");
    }
  }
}
