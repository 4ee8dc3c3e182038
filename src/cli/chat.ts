import { clearLine, createInterface, cursorTo, type Interface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { defaultProviders, type ProviderRegistry } from "../llm/index.js";
import { describeReason } from "../runtime/index.js";
import { parseSessionConfig, type SessionConfigInput, type SessionEvent } from "../session/index.js";
import type { ApiClient } from "./api-client.js";
import { type ChatBackend, type ChatSession, EmbeddedChatBackend } from "./chat-backend.js";
import { RemoteChatBackend } from "./chat-remote.js";
import { approvalQuestion, callLine, diffLines, isYes, resultLine } from "./tool-lines.js";

export interface ChatOptions {
  input: Readable;
  output: Writable;
  /** Delay between streamed words of the offline model, so a person sees the stream. */
  streamDelayMs?: number;
  /** An SQLite file: sessions survive the chat's exit and come back the next time. */
  storePath?: string;
  /** The config of every session the chat opens (model, project, tool approval); a name is added. */
  session?: SessionConfigInput;
  /** The models sessions may use; default the offline one and the remote backends (keys from the environment). */
  providers?: ProviderRegistry;
  /**
   * Read the input as a terminal: line editing, and Ctrl-C as a key (the byte 0x03). Default:
   * when the output is a TTY.
   */
  terminal?: boolean;
  /** Colour diffs and tool results. Default: when the output is a TTY. */
  colors?: boolean;
  /** A second Ctrl-C within this many ms of one that cancelled a reply quits. Default 2000. */
  doubleInterruptMs?: number;
  /**
   * A running server to chat through (`chat --url`): its sessions, its models and its store;
   * `storePath`, `providers` and `streamDelayMs` are then the server's business.
   */
  server?: ApiClient;
  /** The session to start in (`chat <id>`): it must be live. Default: the first one, or a new one. */
  sessionId?: string;
}

const HELP = `commands:
  /new [name]     open another session and switch to it
  /list           list sessions with their status
  /switch <n>     switch to session n (as numbered in /list)
  /kill           kill the current session's supervisor and watch it recover (works mid-reply)
  /crash          crash the current session's LLM orchestrator (works mid-reply)
  /history        show the current session's conversation
  /end            terminate the current session
  /help           this text
  /quit           leave (Ctrl-D works too)
keys: Ctrl-C cancels the reply being written; at the prompt, or twice within 2 s, it quits.
When a tool call needs approval, answer y to allow it (anything else denies it).
anything else is sent to the current session as a message.`;

/** Commands that act at once while a reply streams, instead of waiting for it to end. */
const AT_ONCE = new Set(["/kill", "/crash"]);

/** The reply the chat is waiting for. */
interface RunningTurn {
  sessionId: string;
  controller: AbortController;
  /** Known from the session's turn_started event. */
  turnId?: string;
}

/** A tool call waiting for the person's y or n. */
interface PendingApproval {
  sessionId: string;
  turnId: string;
  callId: string;
  question: string;
}

/**
 * An interactive chat over the session system, for a person at a terminal: several sessions,
 * streamed replies with the tool calls they make, approvals asked as y/N questions, Ctrl-C to
 * cancel a reply, and the commands to break a session and watch it come back.
 *
 * Lines are handled in the order they come (so piped input works as typed input would), with
 * three exceptions: while a tool call waits for approval the next line answers it, and `/kill`
 * and `/crash` act at once while a reply streams.
 */
export class ChatApp {
  private readonly backend: ChatBackend;
  private rl!: Interface;
  private readonly out: Writable;
  private readonly terminal: boolean;
  private readonly colors: boolean;
  private sessions: ChatSession[] = [];
  private current: string | undefined;
  private turn: RunningTurn | undefined;
  /** Turns cancelled here: what they still send (before the session ends them) is not shown. */
  private readonly cancelledTurns = new Set<string>();
  private readonly queue: string[] = [];
  private draining = false;
  private readonly approvals: PendingApproval[] = [];
  private asking: PendingApproval | undefined;
  private promptText = "[-]> ";
  private promptShown = false;
  private atLineStart = true;
  private inputClosed = false;
  private quitting = false;
  private lastCancelAt = Number.NEGATIVE_INFINITY;
  private finish!: () => void;
  private readonly finished = new Promise<void>((resolve) => {
    this.finish = resolve;
  });

  constructor(private readonly options: ChatOptions) {
    this.out = options.output;
    const tty = Boolean((options.output as { isTTY?: boolean }).isTTY);
    this.terminal = options.terminal ?? tty;
    this.colors = options.colors ?? tty;
    this.backend = options.server
      ? new RemoteChatBackend(options.server, (text) => this.notice(text))
      : new EmbeddedChatBackend({
          providers: options.providers ?? defaultProviders({ chunkDelayMs: options.streamDelayMs ?? 15 }),
          storePath: options.storePath,
        });
  }

  /** Runs until /quit, Ctrl-D, or Ctrl-C at the prompt; the session system is stopped before it resolves. */
  async run(): Promise<void> {
    await this.backend.open((event) => this.onEvent(event));
    try {
      this.print(
        `sessionvisor chat — each session is supervised; ${this.describeSetup()}. /help for commands.`,
      );
      this.sessions = await this.backend.listSessions();
      const asked = this.options.sessionId;
      if (asked !== undefined) {
        if (!(await this.backend.getSession(asked))) throw new Error(`no live session ${asked}`);
        this.current = asked;
        if (!this.sessions.some((s) => s.id === asked))
          this.sessions.unshift({ id: asked, status: "active", restarts: 0 });
        this.print(`session ${this.number(asked)} (${asked}); /list shows the others`);
      } else if (this.sessions.length > 0) {
        this.current = this.sessions[0]?.id;
        this.print(`${this.sessions.length} session(s) back from ${this.where()}; /list shows them`);
      } else {
        await this.open("first");
      }
    } catch (error) {
      await this.backend.close();
      throw error;
    }
    this.rl = createInterface({ input: this.options.input, output: this.out, terminal: this.terminal });
    this.rl.on("line", (line) => this.onLine(line));
    this.rl.on("close", () => this.onInputClosed());
    this.rl.on("SIGINT", () => this.interrupt());
    this.prompt();
    await this.finished;
    this.turn?.controller.abort();
    this.rl.close();
    await this.backend.close();
    this.print("bye.");
  }

  /**
   * Ctrl-C: cancels the reply being written; at the prompt, or again within `doubleInterruptMs`
   * of a cancel, quits. The terminal's key comes here; a program may call it for SIGINT.
   */
  interrupt(): void {
    if (this.quitting) return;
    const turn = this.turn;
    const now = Date.now();
    if (
      turn &&
      !turn.controller.signal.aborted &&
      now - this.lastCancelAt > (this.options.doubleInterruptMs ?? 2000)
    ) {
      this.lastCancelAt = now;
      this.cancel(turn);
      return;
    }
    this.quit();
  }

  /** Where the sessions are kept, as the greeting says it. */
  private where(): string {
    return this.options.server ? "the server" : (this.options.storePath ?? "memory");
  }

  private describeSetup(): string {
    if (this.options.server) return "sessions run on the server";
    const config = parseSessionConfig(this.options.session ?? {});
    const { provider, model } = config.llm;
    const what =
      provider === "offline"
        ? `the model is the offline one (${model})`
        : `the model is ${provider} ${model}`;
    if (!config.projectPath) return what;
    const { write, command } = config.tools.approval;
    return `${what}; project ${config.projectPath} (file changes: ${write}, commands: ${command})`;
  }

  // ---- input -------------------------------------------------------------------------------

  private onLine(raw: string): void {
    if (this.quitting) return;
    const line = raw.trim();
    this.atLineStart = true;
    if (this.asking) {
      this.answer(line, !this.terminal);
      return;
    }
    if (this.turn && this.queue.length === 0 && AT_ONCE.has(line)) {
      void this.handle(line);
      return;
    }
    this.queue.push(line);
    void this.drain();
  }

  /** Ctrl-D, or the end of piped input: the lines before it are handled, then the chat quits. */
  private onInputClosed(): void {
    this.inputClosed = true;
    if (this.quitting) return;
    if (this.asking) this.answer("", true);
    this.queue.push("/quit");
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (!this.quitting && !this.asking) {
        const line = this.queue.shift();
        if (line === undefined) break;
        this.promptShown = false;
        this.atLineStart = true;
        await this.handle(line);
        if (!this.quitting && !this.asking) this.prompt();
      }
    } finally {
      this.draining = false;
    }
  }

  private async handle(line: string): Promise<void> {
    if (line === "") return;
    if (!line.startsWith("/")) return this.send(line);
    const [command, ...rest] = line.split(/\s+/);
    const arg = rest.join(" ");
    try {
      switch (command) {
        case "/help":
          return this.print(HELP);
        case "/new":
          return await this.open(arg || undefined);
        case "/list":
          return await this.list();
        case "/switch":
          return await this.switchTo(arg);
        case "/kill":
          return await this.breakCurrent("kill");
        case "/crash":
          return await this.breakCurrent("crash");
        case "/history":
          return await this.history();
        case "/end":
          return await this.end();
        case "/quit":
          return this.quit();
        default:
          return this.print(`unknown command ${command}; /help lists them`);
      }
    } catch (error) {
      this.print(`error: ${messageOf(error)}`);
    }
  }

  private quit(): void {
    if (this.quitting) return;
    this.quitting = true;
    this.queue.length = 0;
    this.approvals.length = 0;
    this.asking = undefined;
    this.turn?.controller.abort();
    this.finish();
  }

  // ---- turns -------------------------------------------------------------------------------

  private async send(text: string): Promise<void> {
    const id = this.current;
    if (!id) return this.print("no session; /new opens one");
    const controller = new AbortController();
    const turn: RunningTurn = { sessionId: id, controller };
    this.turn = turn;
    const cancelled = new Promise<"cancelled">((resolve) =>
      controller.signal.addEventListener("abort", () => resolve("cancelled"), { once: true }),
    );
    const sending = this.backend.sendMessage(id, text, controller.signal);
    // Once cancelled the chat stops waiting; the session's own end of the turn is not shown.
    sending.catch(() => undefined);
    try {
      const outcome = await Promise.race([sending.then(() => "done" as const), cancelled]);
      if (outcome === "done") this.endLine();
      else if (!this.quitting) this.print("(cancelled)");
    } catch (error) {
      if (!(controller.signal.aborted || codeOf(error) === "turn_cancelled"))
        this.print(`error: ${messageOf(error)}`);
      else if (!this.quitting) this.print("(cancelled)");
    } finally {
      if (this.turn === turn) this.turn = undefined;
    }
  }

  private cancel(turn: RunningTurn): void {
    turn.controller.abort();
    if (turn.turnId) this.cancelledTurns.add(turn.turnId);
    // The session drops the turn's pending approvals with it: stop asking about them.
    const ofTurn = (a: PendingApproval) =>
      a.sessionId === turn.sessionId && (!turn.turnId || !a.turnId || a.turnId === turn.turnId);
    for (let i = this.approvals.length - 1; i >= 0; i--) {
      if (ofTurn(this.approvals[i] as PendingApproval)) this.approvals.splice(i, 1);
    }
    if (this.asking && ofTurn(this.asking)) {
      this.asking = undefined;
      this.rl.setPrompt(this.promptText);
      this.resume();
    }
  }

  /** Whether an event of a session's turn belongs to the reply on screen. */
  private showing(event: { sessionId: string; turnId?: string }): boolean {
    const turn = this.turn;
    if (!turn || turn.controller.signal.aborted || event.sessionId !== turn.sessionId) return false;
    if (event.turnId && this.cancelledTurns.has(event.turnId)) return false;
    return !turn.turnId || !event.turnId || event.turnId === turn.turnId;
  }

  // ---- approvals ---------------------------------------------------------------------------

  private requestApproval(event: Extract<SessionEvent, { type: "tool_approval_requested" }>): void {
    if (!this.sessions.some((s) => s.id === event.sessionId) || this.quitting) return;
    const n = this.number(event.sessionId);
    const where = event.sessionId === this.current ? "" : `[session ${n}] `;
    this.approvals.push({
      sessionId: event.sessionId,
      turnId: event.turnId,
      callId: event.callId,
      question: `${where}${approvalQuestion(event.name, event.input)}`,
    });
    this.askNext();
  }

  /**
   * After a question was answered or dropped: the next question, else the lines waiting, else
   * (no reply running) the prompt again.
   */
  private resume(): void {
    this.askNext();
    if (this.asking || this.quitting) return;
    if (this.queue.length > 0) void this.drain();
    else if (!this.draining && !this.turn) this.prompt();
  }

  /** Asks the next pending approval; a line typed (or piped) ahead of the question answers it. */
  private askNext(): void {
    if (this.asking || this.quitting) return;
    const next = this.approvals.shift();
    if (!next) return;
    this.asking = next;
    if (this.promptShown && this.terminal && !this.turn) {
      // At an idle prompt (a question of another session): the question takes the prompt's line.
      clearLine(this.out, 0);
      cursorTo(this.out, 0);
      this.atLineStart = true;
    }
    this.promptShown = false;
    this.endLine();
    if (this.queue.length > 0 || this.inputClosed) {
      this.write(next.question);
      this.answer(this.queue.shift() ?? "", true);
      return;
    }
    this.rl.setPrompt(next.question);
    this.rl.prompt();
    this.atLineStart = false;
  }

  private answer(line: string, echo: boolean): void {
    const asked = this.asking;
    if (!asked) return;
    this.asking = undefined;
    if (!this.inputClosed) this.rl.setPrompt(this.promptText);
    const yes = isYes(line);
    if (echo) this.write(`${yes ? "y" : "n"}\n`);
    this.atLineStart = true;
    const call = yes
      ? this.backend.approveToolCall(asked.sessionId, asked.callId)
      : this.backend.denyToolCall(asked.sessionId, asked.callId, "the user said no");
    call.catch((error: unknown) => this.notice(`error: ${messageOf(error)}`));
    this.resume();
  }

  /** Nobody answered in time, so the session denied the call: its question is no longer asked. */
  private approvalTimedOut(sessionId: string, callId: string, name: string): void {
    const same = (a: PendingApproval) => a.sessionId === sessionId && a.callId === callId;
    const waiting = this.approvals.findIndex(same);
    if (waiting >= 0) this.approvals.splice(waiting, 1);
    const asked = this.asking && same(this.asking);
    if (!asked && waiting < 0) return;
    if (asked) {
      this.asking = undefined;
      if (!this.inputClosed) this.rl.setPrompt(this.promptText);
    }
    this.print(`(no answer in time: ${name} denied)`);
    this.resume();
  }

  // ---- commands ----------------------------------------------------------------------------

  private async open(name?: string): Promise<void> {
    const info = await this.backend.createSession({
      ...this.options.session,
      name: name ?? `session ${this.sessions.length + 1}`,
    });
    this.sessions.push(info);
    this.current = info.id;
    this.print(`opened session ${this.sessions.length} (${info.id})`);
  }

  private async list(): Promise<void> {
    const live = new Map((await this.backend.listSessions()).map((s) => [s.id, s]));
    this.sessions.forEach((s, i) => {
      const info = live.get(s.id);
      const marker = s.id === this.current ? "*" : " ";
      const state = info
        ? `${info.status}${info.restarts ? ` (restarts: ${info.restarts})` : ""}`
        : "terminated";
      this.print(`${marker} ${i + 1}  ${s.name ?? ""}  ${state}  ${s.id}`);
    });
  }

  private async switchTo(arg: string): Promise<void> {
    const index = Number(arg) - 1;
    const target = this.sessions[index];
    if (!target || !(await this.backend.getSession(target.id)))
      return this.print(`no live session ${arg}; /list shows them`);
    this.current = target.id;
    this.print(`switched to session ${index + 1}`);
  }

  /** `/kill` (the session's supervisor, killed) or `/crash` (its orchestrator, crashed). */
  private async breakCurrent(how: "kill" | "crash"): Promise<void> {
    const role = how === "kill" ? "supervisor" : "orchestrator";
    const process = this.current ? await this.backend.processOf(this.current, role) : undefined;
    if (!process) {
      this.print(`the current session has no running ${role}`);
      return;
    }
    this.print(
      how === "kill"
        ? `killing supervisor ${process.label} of session ${this.number(this.current)}`
        : `crashing LLM orchestrator ${process.label}`,
    );
    await this.backend.breakProcess(process, how);
  }

  private async history(): Promise<void> {
    if (!this.current) return this.print("no session");
    for (const turn of await this.backend.getHistory(this.current)) {
      const mark = turn.status === "complete" ? "" : ` (${turn.status.replace("_", " ")})`;
      const calls = (turn as { toolCalls?: { name: string; input: unknown }[] }).toolCalls ?? [];
      // A tool's result can be a whole file: the history shows its start.
      const content = turn.role === "tool" ? shorten(turn.content, 120) : turn.content;
      if (content !== "" || calls.length === 0) this.print(`${turn.role}: ${content}${mark}`);
      for (const call of calls) this.print(`${turn.role}: ${callLine(call.name, call.input, false)}`);
    }
  }

  private async end(): Promise<void> {
    if (!this.current) return this.print("no session");
    const n = this.number(this.current);
    await this.backend.terminateSession(this.current);
    this.current = undefined;
    this.print(`session ${n} terminated; /switch or /new`);
  }

  // ---- events ------------------------------------------------------------------------------

  private onEvent(event: SessionEvent): void {
    if (this.quitting) return;
    if (event.type === "llm_delta") {
      if (this.showing(event)) this.write(event.text);
      return;
    }
    if (event.type === "turn_started") {
      const turn = this.turn;
      if (
        turn &&
        !turn.turnId &&
        event.sessionId === turn.sessionId &&
        !this.cancelledTurns.has(event.turnId)
      )
        turn.turnId = event.turnId;
      return;
    }
    const n = this.number(event.sessionId);
    switch (event.type) {
      case "session_status":
        if (event.previousStatus !== "initializing")
          this.notice(`  [session ${n}: ${event.previousStatus} -> ${event.status}]`);
        return;
      case "session_crashed":
        this.notice(`  [session ${n} crashed: ${describeReason(event.reason)}]`);
        return;
      case "tool_approval_requested":
        this.requestApproval(event);
        return;
      case "tool_approval_decided":
        if (event.by === "timeout") this.approvalTimedOut(event.sessionId, event.callId, event.name);
        return;
      case "tool_call":
        if (this.showing(event)) this.print(callLine(event.name, event.input, this.colors));
        return;
      case "tool_result":
        if (!this.showing(event)) return;
        this.print(resultLine(event, this.colors));
        if (event.diff) this.print(diffLines(event.diff, this.colors));
        return;
    }
  }

  // ---- output ------------------------------------------------------------------------------

  private number(id: string | undefined): number {
    return this.sessions.findIndex((s) => s.id === id) + 1;
  }

  private prompt(): void {
    const n = this.number(this.current);
    this.promptText = this.current ? `[${n}]> ` : "[-]> ";
    this.promptShown = true;
    this.atLineStart = false;
    if (this.inputClosed) {
      this.out.write(this.promptText);
      return;
    }
    this.rl.setPrompt(this.promptText);
    this.rl.prompt();
  }

  /**
   * A line that did not come from the person's own command (a session's status, a late error):
   * over the prompt if one is shown, which is then drawn again with what was typed so far.
   */
  private notice(text: string): void {
    if (!this.promptShown || this.turn || this.asking) {
      this.print(text);
      return;
    }
    if (this.terminal) {
      clearLine(this.out, 0);
      cursorTo(this.out, 0);
      this.atLineStart = true;
    }
    this.print(text);
    this.atLineStart = false;
    if (this.inputClosed) this.out.write(this.promptText);
    else this.rl.prompt(true);
  }

  private write(text: string): void {
    if (text === "") return;
    this.out.write(text);
    this.atLineStart = text.endsWith("\n");
  }

  /** Ends the line being written, if one is. */
  private endLine(): void {
    if (!this.atLineStart) this.write("\n");
  }

  private print(text: string): void {
    this.endLine();
    this.write(`${text}\n`);
  }
}

function shorten(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function codeOf(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
}
