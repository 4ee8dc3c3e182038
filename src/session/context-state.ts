// The conversation's schema is in conversation-schema.ts: this module is zod-free, so that the
// session code a host runs does not load zod (a host's parent checks what it reads, see deps.ts).
import { ESTIMATE, type LlmMessage, type LlmUsage, type TokenCounter } from "../llm/index.js";
import { InvalidArgumentError } from "../runtime/index.js";
import { assertFilePath } from "./file-path.js";
import { formatJsonPath, MAX_METADATA_LENGTH, toJsonData } from "./json-data.js";

/**
 * Who a turn is from, the one list of roles (the conversation schema derives its enum from it).
 * A `tool` turn is the result of one tool call an assistant turn asked for.
 */
export const TURN_ROLES = ["user", "assistant", "system", "tool"] as const;
export type TurnRole = (typeof TURN_ROLES)[number];

/**
 * How a turn ended, the one list of them (a schema that reads turns derives its enum from it):
 * - `complete`: a user turn that has its reply (or is still waiting for it), or a reply;
 * - `interrupted`: a process it depended on died (orchestrator, context manager, session,
 *   host, program) before the reply was recorded;
 * - `timed_out`: the turn's deadline passed; the provider's request was aborted;
 * - `failed`: the provider failed (or broke its contract);
 * - `cancelled`: its caller cancelled it (an AbortSignal, a stream left, an interrupting message).
 * A reply cut short is kept, with the status of its user turn; so is every tool call the turn
 * made, and a call that had no result when the turn ended gets one saying why, with that status.
 */
export const TURN_STATUSES = ["complete", "interrupted", "timed_out", "failed", "cancelled"] as const;
export type TurnStatus = (typeof TURN_STATUSES)[number];

/** How a turn that got no (whole) reply ended. */
export type TurnEnding = Exclude<TurnStatus, "complete">;

/** A tool call as the history keeps it. */
export interface ToolCallRecord {
  id: string;
  name: string;
  input: unknown;
}

export interface ConversationTurn {
  id: string;
  role: TurnRole;
  content: string;
  /** ISO-8601. */
  at: string;
  status: TurnStatus;
  /** An assistant turn that asked for tool calls (its `content` is the text beside them, often empty). */
  toolCalls?: ToolCallRecord[] | undefined;
  /** A tool turn: the call it answers. */
  toolCallId?: string | undefined;
  toolName?: string | undefined;
  /** A tool turn whose call failed, was denied or never finished: `content` says why. */
  isError?: boolean | undefined;
  /** A turn's final reply: the tokens its model calls used, all steps together. */
  usage?: LlmUsage | undefined;
}

export interface FileEntry {
  path: string;
  metadata: Record<string, unknown>;
  /** ISO-8601. */
  lastAccessed: string;
  accessCount: number;
}

/** Plain JSON: what the store keeps so that a restarted ContextManager finds the conversation. */
export interface ContextSnapshot {
  version: 1;
  nextTurn: number;
  /** Tokens used by every turn the session has had, dropped ones included. */
  usage?: LlmUsage | undefined;
  turns: ConversationTurn[];
  /** Most recent first. */
  activeFiles: string[];
  fileIndex: FileEntry[];
}

export interface ContextLimits {
  maxHistory: number;
  maxFiles: number;
}

export interface BuiltContext {
  messages: LlmMessage[];
  tokens: number;
  /** History turns left out to stay within the budget. */
  droppedTurns: number;
  includedFiles: string[];
  /** True when the newest user message alone was over budget and was shortened. */
  truncated: boolean;
  /** How `tokens` was counted: `estimate` (about four characters a token) or the model's encoding. */
  tokenizer: string;
}

export const MAX_CONTENT = 1_000_000;

/** The empty arrays of a ContextState with nothing in them yet; frozen, so a write would throw. */
const NONE = Object.freeze([]) as unknown as never[];

/**
 * A session's conversation and working set, without any process around it: history bounded
 * by `maxHistory`, active files bounded by `maxFiles`, and a file index that outlives both.
 */
export class ContextState {
  /**
   * Until the first turn, the three turn arrays are one shared empty array (never written to:
   * `push` replaces them first), and so is `files` (only ever replaced): four arrays fewer for
   * every session that has not spoken yet.
   */
  private turns: ConversationTurn[] = NONE;
  /**
   * Beside each turn, what the model is shown of it (frozen, as it is handed out) and its
   * token estimate: a turn's role and content never change, so every context is built from
   * them without a new message per turn per request.
   */
  private messages: Readonly<LlmMessage>[] = NONE;
  private costs: number[] = NONE;
  private files: string[] = NONE;
  /**
   * Made at the first file added: most sessions never add one, and an empty Map is ~200 bytes
   * a session keeps.
   */
  private index: Map<string, FileEntry> | undefined = undefined;
  private nextTurn = 1;
  /** Tokens used so far, as two fields rather than an object of their own per session. */
  private inputTokens = 0;
  private outputTokens = 0;

  constructor(
    private readonly limits: ContextLimits,
    private readonly counter: TokenCounter = ESTIMATE,
  ) {}

  /**
   * The state a conversation describes that was already checked against the conversation schema
   * (readContextSnapshot; restoreContextState reads and checks a stored one).
   */
  static fromSnapshot(
    snapshot: ContextSnapshot,
    limits: ContextLimits,
    counter: TokenCounter = ESTIMATE,
  ): ContextState {
    const state = new ContextState(limits, counter);
    state.nextTurn = snapshot.nextTurn;
    if (snapshot.usage) {
      state.inputTokens = snapshot.usage.inputTokens;
      state.outputTokens = snapshot.usage.outputTokens;
    }
    state.turns = snapshot.turns.slice(-limits.maxHistory).map((turn) => ({ ...turn }));
    state.messages = state.turns.map(messageOf);
    state.costs = state.messages.map((m) => state.costOf(m));
    state.files = snapshot.activeFiles.slice(0, limits.maxFiles);
    for (const entry of snapshot.fileIndex)
      state.fileEntries().set(entry.path, { ...entry, metadata: { ...entry.metadata } });
    return state;
  }

  /** The conversation's fields beside the turns that a new turn changes (the store's small head). */
  turnFields(): { version: 1; nextTurn: number; usage: { inputTokens: number; outputTokens: number } } {
    return { version: 1, nextTurn: this.nextTurn, usage: this.usageTotals() };
  }

  /**
   * The head fields a change of the turns may have changed: `nextTurn` always, `usage` when
   * asked (an ending that counted tokens). `version` never changes once written.
   */
  changedTurnFields(usage: boolean): {
    nextTurn: number;
    usage?: { inputTokens: number; outputTokens: number };
  } {
    return usage ? { nextTurn: this.nextTurn, usage: this.usageTotals() } : { nextTurn: this.nextTurn };
  }

  /** Tokens used by every turn so far. */
  usageTotals(): LlmUsage {
    return { inputTokens: this.inputTokens, outputTokens: this.outputTokens };
  }

  /** The conversation's fields beside the turns that a file change changes. */
  fileFields(): Pick<ContextSnapshot, "activeFiles" | "fileIndex"> {
    return { activeFiles: this.activeFiles(), fileIndex: this.fileIndex() };
  }

  /** The id of the oldest turn the history keeps: the store drops every turn before it. */
  oldestTurnId(): string | undefined {
    return this.turns[0]?.id;
  }

  turnCount(): number {
    return this.turns.length;
  }

  snapshot(): ContextSnapshot {
    return {
      version: 1,
      nextTurn: this.nextTurn,
      usage: this.usageTotals(),
      turns: this.turns.map((turn) => ({ ...turn })),
      activeFiles: [...this.files],
      fileIndex: this.fileIndex(),
    };
  }

  /** Adds a turn; the oldest turns beyond `maxHistory` are dropped and counted. */
  append(role: TurnRole, content: string, at: Date, status: ConversationTurn["status"] = "complete") {
    if (role !== "user" && role !== "assistant" && role !== "system") {
      throw new InvalidArgumentError("role", "must be user, assistant or system");
    }
    if (typeof content !== "string" || content.length > MAX_CONTENT) {
      throw new InvalidArgumentError("content", `must be a string of at most ${MAX_CONTENT} characters`);
    }
    return this.push({ id: `t${this.nextTurn++}`, role, content, at: isoTime(at), status });
  }

  /** Adds a turn built in full; the oldest turns beyond `maxHistory` are dropped and counted. */
  private push(turn: ConversationTurn): { turn: ConversationTurn; dropped: number } {
    if (this.turns === NONE) {
      this.turns = [];
      this.messages = [];
      this.costs = [];
    }
    this.turns.push(turn);
    const message = messageOf(turn);
    this.messages.push(message);
    this.costs.push(this.costOf(message));
    const dropped = Math.max(0, this.turns.length - this.limits.maxHistory);
    // One at a time: a turn pushes out at most one, and shift() neither copies nor allocates.
    for (let i = 0; i < dropped; i++) {
      this.turns.shift();
      this.messages.shift();
      this.costs.shift();
    }
    return { turn: { ...turn }, dropped };
  }

  /**
   * After a crash: every user turn still `complete` with no reply after it (before the next
   * user turn) was in flight when a process went down. Each is marked `interrupted`, and
   * returned, so that it is reported rather than silently lost.
   */
  interruptUnanswered(at: Date = new Date()): {
    marked: ConversationTurn[];
    /** Results added for the tool calls that had none, each saying the call was interrupted. */
    closed: ConversationTurn[];
    dropped: number;
  } {
    const marked: ConversationTurn[] = [];
    this.turns.forEach((turn, i) => {
      if (turn.role === "user" && turn.status === "complete" && !this.answered(i)) {
        turn.status = "interrupted";
        marked.push({ ...turn });
      }
    });
    // Only the newest turn can have been running, so its calls are the only ones left open.
    const { closed, dropped } = this.closeOpenCalls("interrupted", at);
    return { marked, closed, dropped };
  }

  /**
   * Records the tool calls a step of the open user turn `turnId` asks for, with the text the
   * model sent beside them, as an assistant turn. Refused (`undefined`) when the turn has ended.
   */
  recordCalls(
    turnId: string,
    text: string,
    calls: ToolCallRecord[],
    at: Date,
  ): { turn: ConversationTurn; dropped: number } | undefined {
    if (this.openTurnIndex(turnId) < 0) return undefined;
    if (calls.length === 0) throw new InvalidArgumentError("calls", "must name at least one tool call");
    const toolCalls = calls.map(({ id, name, input }) => ({ id, name, input }));
    return this.push({
      id: `t${this.nextTurn++}`,
      role: "assistant",
      content: text,
      at: isoTime(at),
      status: "complete",
      toolCalls,
    });
  }

  /**
   * Records the result of one call an earlier step of the open turn `turnId` asked for, as a
   * tool turn. Refused (`undefined`) when the turn has ended or the call has a result already.
   */
  recordResult(
    turnId: string,
    result: { callId: string; name: string; content: string; isError: boolean },
    at: Date,
  ): { turn: ConversationTurn; dropped: number } | undefined {
    const start = this.openTurnIndex(turnId);
    if (start < 0 || !this.openCallIds(start).has(result.callId)) return undefined;
    return this.push({
      id: `t${this.nextTurn++}`,
      role: "tool",
      content: result.content,
      at: isoTime(at),
      status: "complete",
      toolCallId: result.callId,
      toolName: result.name,
      ...(result.isError ? { isError: true } : {}),
    });
  }

  /** Index of user turn `turnId` if it still waits for its reply, else -1. */
  private openTurnIndex(turnId: string): number {
    let i = this.turns.length - 1;
    while (i >= 0 && (this.turns[i] as ConversationTurn).id !== turnId) i--;
    const user = this.turns[i];
    return user?.role === "user" && user.status === "complete" && !this.answered(i) ? i : -1;
  }

  /** Ids of the calls asked for after the user turn at `start` that have no result yet. */
  private openCallIds(start: number): Map<string, string> {
    const open = new Map<string, string>();
    for (let j = start + 1; j < this.turns.length; j++) {
      const turn = this.turns[j] as ConversationTurn;
      if (turn.role === "user") break;
      for (const call of turn.toolCalls ?? []) open.set(call.id, call.name);
      if (turn.role === "tool" && turn.toolCallId !== undefined) open.delete(turn.toolCallId);
    }
    return open;
  }

  /**
   * Gives every call of the newest user turn that has no result one saying how the turn ended,
   * so that the history is honest and a model is never sent a call without its result.
   */
  private closeOpenCalls(status: TurnStatus, at: Date): { closed: ConversationTurn[]; dropped: number } {
    let start = this.turns.length - 1;
    while (start >= 0 && (this.turns[start] as ConversationTurn).role !== "user") start--;
    const closed: ConversationTurn[] = [];
    let dropped = 0;
    // Nothing after the user's message (a turn without tool calls): no call to close.
    if (start < 0 || start === this.turns.length - 1) return { closed, dropped };
    for (const [callId, name] of this.openCallIds(start)) {
      const added = this.push({
        id: `t${this.nextTurn++}`,
        role: "tool",
        content:
          status === "complete"
            ? "not run: the turn reached its limit of model steps"
            : `not run to its end: the turn was ${status.replace("_", " ")}`,
        at: isoTime(at),
        status,
        toolCallId: callId,
        toolName: name,
        isError: true,
      });
      closed.push({ ...added.turn });
      dropped += added.dropped;
    }
    return { closed, dropped };
  }

  /**
   * Ends the user turn `turnId`, still waiting for its reply: `complete` adds `reply` as the
   * assistant's turn; any other ending marks the user turn so, and keeps a reply cut short
   * (if any) with the same status. A turn that ended already (for example marked interrupted
   * by a restart in between) is left as it is: `ended` is false.
   */
  endTurn(
    turnId: string,
    status: TurnStatus,
    reply: string,
    at: Date,
    usage?: LlmUsage,
  ): {
    ended: boolean;
    /** Whether the user turn's status changed (any ending but `complete`): it must be stored again. */
    statusChanged: boolean;
    turn: ConversationTurn | undefined;
    reply: ConversationTurn | undefined;
    /** Results added for calls that had none (see closeOpenCalls). */
    closed: ConversationTurn[];
    /** How many of the oldest turns the reply (and the results added) pushed out of the history. */
    dropped: number;
  } {
    if (!(TURN_STATUSES as readonly string[]).includes(status)) {
      throw new InvalidArgumentError("status", `must be one of ${TURN_STATUSES.join(", ")}`);
    }
    const i = this.openTurnIndex(turnId);
    if (i < 0) {
      const user = this.turns.find((t) => t.id === turnId);
      return {
        ended: false,
        statusChanged: false,
        turn: user ? { ...user } : undefined,
        reply: undefined,
        closed: [],
        dropped: 0,
      };
    }
    const user = this.turns[i] as ConversationTurn;
    const { closed, dropped: droppedByClosing } = this.closeOpenCalls(status, at);
    // An open user turn is `complete` (see openTurnIndex): only another ending changes it.
    const changed = user.status !== status;
    user.status = status;
    const marked = { ...user };
    if (usage) {
      this.inputTokens += usage.inputTokens;
      this.outputTokens += usage.outputTokens;
    }
    if (status !== "complete" && reply.length === 0)
      return {
        ended: true,
        statusChanged: changed,
        turn: marked,
        reply: undefined,
        closed,
        dropped: droppedByClosing,
      };
    const { turn, dropped } = this.push({
      id: `t${this.nextTurn++}`,
      role: "assistant",
      content: reply,
      at: isoTime(at),
      status,
      ...(usage ? { usage: { ...usage } } : {}),
    });
    return {
      ended: true,
      statusChanged: changed,
      turn: marked,
      // push hands out a copy already.
      reply: turn,
      closed,
      dropped: dropped + droppedByClosing,
    };
  }

  /**
   * Whether the user turn at `index` has its reply: an assistant turn that asks for no tool
   * calls, before the next user turn (the steps between ask for calls and get their results).
   */
  private answered(index: number): boolean {
    for (let j = index + 1; j < this.turns.length; j++) {
      const turn = this.turns[j] as ConversationTurn;
      if (turn.role === "assistant" && turn.toolCalls === undefined) return true;
      if (turn.role === "user") return false;
    }
    return false;
  }

  history(): ConversationTurn[] {
    return this.turns.map((turn) => ({ ...turn }));
  }

  /**
   * Makes `path` the most recent active file, merging `metadata` into what the index knows.
   * Returns the files pushed out by `maxFiles`.
   */
  addFile(
    path: string,
    metadata: Record<string, unknown> = {},
    at: Date = new Date(),
  ): { dropped: string[] } {
    assertFilePath(path);
    const added = toJsonData(metadata, { maxLength: MAX_METADATA_LENGTH });
    if (!added.ok) throw new InvalidArgumentError(formatJsonPath(["metadata", ...added.path]), added.message);
    if (typeof added.value !== "object" || added.value === null || Array.isArray(added.value)) {
      throw new InvalidArgumentError("metadata", "must be an object");
    }
    const known = this.index?.get(path);
    const merged = { ...(known?.metadata ?? {}), ...added.value };
    // The limit holds for what the index keeps, so metadata added a key at a time stays bounded.
    if (JSON.stringify(merged).length > MAX_METADATA_LENGTH) {
      throw new InvalidArgumentError(
        "metadata",
        `with what ${path} has already, must serialize to at most ${MAX_METADATA_LENGTH} characters of JSON`,
      );
    }
    this.files = [path, ...this.files.filter((p) => p !== path)];
    const dropped = this.files.splice(this.limits.maxFiles);
    this.fileEntries().set(path, {
      path,
      metadata: merged,
      lastAccessed: at.toISOString(),
      accessCount: (known?.accessCount ?? 0) + 1,
    });
    return { dropped };
  }

  removeFile(path: string): boolean {
    assertFilePath(path);
    const before = this.files.length;
    this.files = this.files.filter((p) => p !== path);
    return this.files.length !== before;
  }

  private fileEntries(): Map<string, FileEntry> {
    this.index ??= new Map();
    return this.index;
  }

  activeFiles(): string[] {
    return [...this.files];
  }

  fileIndex(): FileEntry[] {
    return [...(this.index?.values() ?? [])].map((entry) => ({ ...entry, metadata: { ...entry.metadata } }));
  }

  /**
   * What the model sees, within `tokenBudget`: the system prompt, the active files, then as
   * many of the most recent turns as fit, oldest first. The newest user message is always in,
   * shortened if it alone is over budget.
   */
  buildContext(options: { systemPrompt?: string | undefined; tokenBudget: number }): BuiltContext {
    const budget = options.tokenBudget;
    if (!(Number.isInteger(budget) && budget > 0))
      throw new InvalidArgumentError("tokenBudget", "must be a positive whole number");
    let used = 0;
    const head: LlmMessage[] = [];
    if (options.systemPrompt) {
      const content = this.truncate(options.systemPrompt, Math.floor(budget / 2));
      head.push({ role: "system", content });
      used += this.counter.count(content);
    }
    const includedFiles: string[] = [];
    if (this.files.length > 0) {
      const lines = ["Active files (most recent first):"];
      for (const path of this.files) {
        const metadata = this.index?.get(path)?.metadata ?? {};
        const summary = Object.entries(metadata)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(", ");
        const line = summary ? `- ${path} (${summary})` : `- ${path}`;
        if (used + this.counter.count([...lines, line].join("\n")) > budget / 2) break;
        lines.push(line);
        includedFiles.push(path);
      }
      if (includedFiles.length > 0) {
        const content = lines.join("\n");
        head.push({ role: "system", content });
        used += this.counter.count(content);
      }
    }
    // The turn under way — the newest user message and the calls and results after it — is
    // always in, its tool results (then the message) cut with a marker if it does not fit; then
    // as many of the turns before it as fit, newest first.
    const current = Math.max(
      0,
      findLastIndex(this.turns, (t) => t.role === "user"),
    );
    const fitted = this.fitCurrentTurn(current, budget - used);
    used += fitted.tokens;
    let start = current;
    for (let i = current - 1; i >= 0; i--) {
      const cost = this.costs[i] as number;
      if (used + cost > budget) break;
      used += cost;
      start = i;
    }
    // A window must not open on results whose call was left out: a model refuses those.
    while (start < current && (this.turns[start] as ConversationTurn).role === "tool") {
      used -= this.costs[start] as number;
      start++;
    }
    const tail =
      start === current && fitted.messages !== undefined
        ? fitted.messages
        : fitted.messages === undefined
          ? this.messages.slice(start)
          : [...this.messages.slice(start, current), ...fitted.messages];
    return {
      messages: head.length === 0 ? tail : [...head, ...tail],
      tokens: used,
      droppedTurns: start,
      includedFiles,
      truncated: fitted.messages !== undefined,
      tokenizer: this.counter.name,
    };
  }

  /**
   * The turns from `from` (the newest user message) on, within `room` tokens: as they are if
   * they fit (`messages` undefined), else with the largest tool results cut first, each to no
   * less than MIN_RESULT_TOKENS, and then the user's message, each cut marked.
   */
  private fitCurrentTurn(from: number, room: number): { messages?: LlmMessage[]; tokens: number } {
    let total = 0;
    for (let i = from; i < this.costs.length; i++) total += this.costs[i] as number;
    if (total <= room) return { tokens: total };
    const messages = this.messages.slice(from) as LlmMessage[];
    const costs = this.costs.slice(from);
    let excess = total - Math.max(1, room);
    const order = messages
      .map((m, i) => ({ i, cost: costs[i] as number, tool: m.role === "tool" }))
      .filter((m) => m.tool)
      .sort((a, b) => b.cost - a.cost);
    for (const { i, cost } of order) {
      if (excess <= 0) break;
      const keep = Math.max(MIN_RESULT_TOKENS, cost - excess);
      if (keep >= cost) continue;
      const message = messages[i] as Extract<LlmMessage, { role: "tool" }>;
      const content = this.cut(message.content, keep);
      const now = this.counter.count(content);
      messages[i] = { ...message, content };
      excess -= cost - now;
      costs[i] = now;
    }
    const user = messages[0];
    if (excess > 0 && user?.role === "user") {
      const keep = Math.max(1, (costs[0] as number) - excess);
      const content = this.truncate(user.content, keep);
      const now = this.counter.count(content);
      messages[0] = { role: "user", content };
      excess -= (costs[0] as number) - now;
      costs[0] = now;
    }
    return { messages, tokens: costs.reduce((a, b) => a + b, 0) };
  }

  /** `text` cut to about `tokens` with a marker saying how much of it is shown. */
  private cut(text: string, tokens: number): string {
    const marker = (shown: number) =>
      `\n[… cut to fit the context: ${shown} of ${text.length} characters shown]`;
    const room = Math.max(1, tokens - this.counter.count(marker(text.length)));
    const kept = this.truncate(text, room);
    return kept + marker(kept.length);
  }

  /** What a message costs in the context: its text, and the calls it asks for. */
  private costOf(message: Readonly<LlmMessage>): number {
    const calls = message.role === "assistant" ? message.toolCalls : undefined;
    const { count } = this.counter;
    return count(message.content) + (calls ? count(JSON.stringify(calls)) : 0);
  }

  /** The longest start of `text` within `tokens` (whole, if it fits). */
  private truncate(text: string, tokens: number): string {
    const { count } = this.counter;
    if (count(text) <= tokens) return text;
    // Four characters a token is exact for the estimate and close for an encoding.
    let cut = Math.min(text.length, tokens * 4);
    while (cut > 0 && count(text.slice(0, cut)) > tokens) cut = Math.floor(cut * 0.9);
    return text.slice(0, cut);
  }
}

/** The least a tool result is cut to when the turn under way does not fit the context. */
const MIN_RESULT_TOKENS = 64;

/** The last time written as ISO-8601: a turn's two appends nearly always fall in the same ms. */
let lastIso = { ms: Number.NaN, text: "" };

function isoTime(at: Date): string {
  const ms = at.getTime();
  if (ms !== lastIso.ms) lastIso = { ms, text: at.toISOString() };
  return lastIso.text;
}

function messageOf(turn: ConversationTurn): Readonly<LlmMessage> {
  switch (turn.role) {
    case "tool":
      return Object.freeze({
        role: "tool",
        toolCallId: turn.toolCallId ?? "",
        toolName: turn.toolName ?? "",
        content: turn.content,
        ...(turn.isError ? { isError: true } : {}),
      });
    case "assistant":
      return Object.freeze(
        turn.toolCalls
          ? {
              role: "assistant",
              content: turn.content,
              toolCalls: Object.freeze(turn.toolCalls.map((call) => Object.freeze({ ...call }))),
            }
          : { role: "assistant", content: turn.content },
      );
    default:
      return Object.freeze({ role: turn.role, content: turn.content });
  }
}

function findLastIndex<T>(items: T[], test: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i] as T)) return i;
  return -1;
}
