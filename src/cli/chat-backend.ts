import type { ProviderRegistry } from "../llm/index.js";
import { type Pid, silentLogger } from "../runtime/index.js";
import type {
  ConversationTurn,
  SessionConfigInput,
  SessionEvent,
  SessionInfo,
  SessionSystem,
} from "../session/index.js";

/** The processes of a session the chat's `/kill` and `/crash` break. */
export type ProcessRole = "supervisor" | "orchestrator";

/** A process the chat may break; `label` is its pid as printed. */
export interface ChatProcess {
  readonly label: string;
}

/** A session as the chat lists it. */
export interface ChatSession {
  id: string;
  name?: string | undefined;
  status: string;
  restarts: number;
}

/**
 * Where the chat's sessions live: a session system in this process, or a running server
 * reached over HTTP. The chat speaks only this, so both behave alike for the person typing.
 */
export interface ChatBackend {
  /** Starts the sessions' side and the flow of events of every session the chat may show. */
  open(onEvent: (event: SessionEvent) => void): Promise<void>;
  listSessions(): Promise<ChatSession[]>;
  /** The session if it is live (not terminated), else undefined. */
  getSession(id: string): Promise<ChatSession | undefined>;
  createSession(config: SessionConfigInput): Promise<ChatSession>;
  /** Resolves once the reply is complete and every event of its turn has reached `onEvent`. */
  sendMessage(id: string, text: string, signal: AbortSignal): Promise<void>;
  approveToolCall(id: string, callId: string): Promise<void>;
  denyToolCall(id: string, callId: string, reason: string): Promise<void>;
  getHistory(id: string): Promise<ConversationTurn[]>;
  terminateSession(id: string): Promise<void>;
  /** The session's running supervisor or orchestrator, if it has one. */
  processOf(id: string, role: ProcessRole): Promise<ChatProcess | undefined>;
  /** Kills the process (`kill`, as `/kill` does) or crashes it with an error (`/crash`). */
  breakProcess(process: ChatProcess, how: "kill" | "crash"): Promise<void>;
  close(): Promise<void>;
}

/** A process of this program: the pid itself is kept, not only its label. */
interface EmbeddedProcess extends ChatProcess {
  readonly pid: Pid;
}

export interface EmbeddedBackendOptions {
  providers: ProviderRegistry;
  storePath?: string | undefined;
}

/** The chat's sessions in a session system started in this process (the default). */
export class EmbeddedChatBackend implements ChatBackend {
  private system: SessionSystem | undefined;
  private unsubscribe = () => {};

  constructor(private readonly options: EmbeddedBackendOptions) {}

  async open(onEvent: (event: SessionEvent) => void): Promise<void> {
    // Loaded here so that a chat against a server does not start (or load) a session system.
    const { SessionSystem } = await import("../session/index.js");
    const system = await SessionSystem.start({
      logger: silentLogger(),
      providers: this.options.providers,
      ...(this.options.storePath ? { storePath: this.options.storePath } : {}),
    });
    this.system = system;
    const subscription = system.subscribeAll(onEvent);
    this.unsubscribe = () => subscription.unsubscribe();
  }

  private get sessions(): SessionSystem {
    if (!this.system) throw new Error("the chat's session system is not open");
    return this.system;
  }

  listSessions(): Promise<SessionInfo[]> {
    return this.sessions.listSessions();
  }

  getSession(id: string): Promise<SessionInfo | undefined> {
    return this.sessions.getSession(id);
  }

  createSession(config: SessionConfigInput): Promise<SessionInfo> {
    return this.sessions.createSession(config);
  }

  async sendMessage(id: string, text: string, signal: AbortSignal): Promise<void> {
    // Events are delivered as they are published, before the reply: nothing is left to wait for.
    await this.sessions.sendMessage(id, text, { signal });
  }

  approveToolCall(id: string, callId: string): Promise<void> {
    return this.sessions.approveToolCall(id, callId);
  }

  denyToolCall(id: string, callId: string, reason: string): Promise<void> {
    return this.sessions.denyToolCall(id, callId, reason);
  }

  getHistory(id: string): Promise<ConversationTurn[]> {
    return this.sessions.getHistory(id);
  }

  terminateSession(id: string): Promise<void> {
    return this.sessions.terminateSession(id);
  }

  async processOf(id: string, role: ProcessRole): Promise<ChatProcess | undefined> {
    const system = this.sessions;
    const pid = role === "supervisor" ? system.findSupervisor(id) : system.getOrchestratorPid(id);
    if (!pid) return undefined;
    const found: EmbeddedProcess = { label: String(pid), pid };
    return found;
  }

  async breakProcess(process: ChatProcess, how: "kill" | "crash"): Promise<void> {
    const { pid } = process as EmbeddedProcess;
    this.sessions.runtime.exit(pid, how === "kill" ? "kill" : new Error("crashed on purpose from the chat"));
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.system?.stop();
  }
}
