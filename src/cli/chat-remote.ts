import { setTimeout as delay } from "node:timers/promises";
import type { TreeNode } from "../server/schemas.js";
import type { ConversationTurn, SessionConfigInput, SessionEvent } from "../session/index.js";
import type { ApiClient } from "./api-client.js";
import type { ChatBackend, ChatProcess, ChatSession, ProcessRole } from "./chat-backend.js";
import { CliError } from "./output.js";

/**
 * How long a reply waits for its turn's last events to come down the event stream. The reply
 * and the events travel on two connections, so the reply can arrive first; past this the chat
 * goes on without the stragglers rather than waiting for ever on a stream that broke.
 */
const STRAGGLER_WAIT_MS = 2000;
/** Between tries to open the event stream again after it broke. */
const RECONNECT_MS = 1000;

/**
 * The chat's sessions on a running `sessionvisor serve`: requests to its HTTP API, and every
 * event of the caller's sessions from `GET /v1/events`, opened again after the last event read
 * if it breaks, so that nothing is missed. `/kill` and `/crash` need a server started with `--dev`.
 */
export class RemoteChatBackend implements ChatBackend {
  private readonly stop = new AbortController();
  private onEvent: (event: SessionEvent) => void = () => {};
  /** `llm_done` events seen per turn: a reply is complete on screen once it has had `steps` of them. */
  private readonly doneSteps = new Map<string, number>();
  private readonly stepWaiters = new Set<() => void>();
  private streaming: Promise<void> = Promise.resolve();
  /** The id of the last event read: a stream opened again resumes after it. */
  private lastEventId: string | undefined;

  constructor(
    private readonly client: ApiClient,
    private readonly notice: (text: string) => void,
  ) {}

  async open(onEvent: (event: SessionEvent) => void): Promise<void> {
    this.onEvent = onEvent;
    // The first connection is made before the chat starts, so that a bad URL or token is the
    // chat's one line of error rather than a notice later.
    const first = await this.client.openEvents(this.stop.signal);
    this.streaming = this.keepStreaming(first);
  }

  /** Reads the event stream; opens it again when it breaks or ends, until the chat closes. */
  private async keepStreaming(opened: Awaited<ReturnType<ApiClient["openEvents"]>>): Promise<void> {
    let stream: typeof opened | undefined = opened;
    while (!this.stop.signal.aborted) {
      try {
        stream ??= await this.client.openEvents(this.stop.signal, this.lastEventId);
        await stream.read((event, id) => this.deliver(event, id));
        if (!this.stop.signal.aborted) this.notice("(the server ended the event stream; reconnecting)");
      } catch (error) {
        if (this.stop.signal.aborted) return;
        this.notice(`(event stream: ${(error as Error).message}; reconnecting)`);
      }
      stream = undefined;
      await delay(RECONNECT_MS, undefined, { signal: this.stop.signal }).catch(() => {});
    }
  }

  private deliver(event: SessionEvent, id: string | undefined): void {
    if (id !== undefined) this.lastEventId = id;
    if ((event as { type: string }).type === "events_lost") {
      this.notice("(some events were lost while the stream was away; /list shows where sessions are now)");
      return;
    }
    if (event.type === "llm_done") {
      this.doneSteps.set(event.turnId, (this.doneSteps.get(event.turnId) ?? 0) + 1);
    }
    this.onEvent(event);
    if (event.type === "llm_done") for (const wake of [...this.stepWaiters]) wake();
  }

  async listSessions(): Promise<ChatSession[]> {
    return this.client.listSessions();
  }

  async getSession(id: string): Promise<ChatSession | undefined> {
    try {
      const session = await this.client.getSession(id);
      return session.status === "terminated" ? undefined : session;
    } catch (error) {
      if (error instanceof CliError && error.code === "session_not_found") return undefined;
      throw error;
    }
  }

  createSession(config: SessionConfigInput): Promise<ChatSession> {
    return this.client.createSession(config as Record<string, unknown>);
  }

  async sendMessage(id: string, text: string, signal: AbortSignal): Promise<void> {
    const reply = await this.client.sendMessage(id, text, signal);
    await this.stepsSeen(reply.turnId, reply.steps, signal);
    this.doneSteps.delete(reply.turnId);
  }

  /** Waits until the event stream has brought the turn's `steps` model answers, or gives up. */
  private stepsSeen(turnId: string, steps: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if ((this.doneSteps.get(turnId) ?? 0) < steps && !signal.aborted) return;
        finish();
      };
      const timer = setTimeout(() => finish(), STRAGGLER_WAIT_MS);
      const finish = () => {
        clearTimeout(timer);
        this.stepWaiters.delete(check);
        resolve();
      };
      this.stepWaiters.add(check);
      check();
    });
  }

  approveToolCall(id: string, callId: string): Promise<void> {
    return this.client.approveToolCall(id, callId);
  }

  denyToolCall(id: string, callId: string, reason: string): Promise<void> {
    return this.client.denyToolCall(id, callId, reason);
  }

  getHistory(id: string): Promise<ConversationTurn[]> {
    return this.client.history(id);
  }

  terminateSession(id: string): Promise<void> {
    return this.client.terminateSession(id);
  }

  async processOf(id: string, role: ProcessRole): Promise<ChatProcess | undefined> {
    const { root } = await this.client.tree();
    const name = role === "supervisor" ? `session_supervisor:${id}` : `llm_orchestrator:${id}`;
    const found = findNamed(root, name);
    return found ? { label: found.pid } : undefined;
  }

  /** A server kills; it does not crash a process with an error, so `/crash` is a kill here too. */
  async breakProcess(process: ChatProcess): Promise<void> {
    try {
      await this.client.killProcess(process.label);
    } catch (error) {
      if (error instanceof CliError && error.code === "not_found") {
        throw new CliError(
          1,
          "the server does not allow it: start it with `sessionvisor serve --dev`",
          error.code,
        );
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    this.stop.abort();
    for (const wake of [...this.stepWaiters]) wake();
    await this.streaming.catch(() => {});
  }
}

function findNamed(node: TreeNode, name: string): TreeNode | undefined {
  if (node.names.includes(name)) return node;
  for (const child of node.children ?? []) {
    const found = findNamed(child, name);
    if (found) return found;
  }
  return undefined;
}
