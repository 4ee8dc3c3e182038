import { createInterface, type Interface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { defaultProviders } from "../llm/index.js";
import { describeReason, type Pid, silentLogger } from "../runtime/index.js";
import { type SessionEvent, type SessionInfo, SessionSystem } from "../session/index.js";

export interface ChatOptions {
  input: Readable;
  output: Writable;
  /** Delay between streamed words of the offline model, so a person sees the stream. */
  streamDelayMs?: number;
  /** An SQLite file: sessions survive the chat's exit and come back the next time. */
  storePath?: string;
}

const HELP = `commands:
  /new [name]     open another session and switch to it
  /list           list sessions with their status
  /switch <n>     switch to session n (as numbered in /list)
  /kill           kill the current session's supervisor and watch it recover
  /crash          crash the current session's LLM orchestrator
  /history        show the current session's conversation
  /end            terminate the current session
  /help           this text
  /quit           leave (Ctrl-D works too)
anything else is sent to the current session as a message.`;

/**
 * An interactive chat over the session system, for a person at a terminal: several sessions,
 * streamed replies, and the commands to break a session and watch it come back.
 */
export class ChatApp {
  private system!: SessionSystem;
  private readonly rl: Interface;
  private readonly out: Writable;
  private sessions: SessionInfo[] = [];
  private current: string | undefined;
  private streaming = false;
  private closed = false;

  constructor(private readonly options: ChatOptions) {
    this.out = options.output;
    this.rl = createInterface({
      input: options.input,
      output: options.output,
      terminal: "isTTY" in options.output && Boolean((options.output as { isTTY?: boolean }).isTTY),
    });
  }

  async run(): Promise<void> {
    this.system = await SessionSystem.start({
      logger: silentLogger(),
      providers: defaultProviders({ chunkDelayMs: this.options.streamDelayMs ?? 15 }),
      ...(this.options.storePath ? { storePath: this.options.storePath } : {}),
    });
    this.system.subscribeAll((event) => this.onEvent(event));
    this.print(
      "sessionvisor chat — each session is supervised; the model is the offline one. /help for commands.",
    );
    this.sessions = await this.system.listSessions();
    if (this.sessions.length > 0) {
      this.current = this.sessions[0]?.id;
      this.print(`${this.sessions.length} session(s) back from ${this.options.storePath}; /list shows them`);
    } else {
      await this.open("first");
    }
    this.rl.on("SIGINT", () => this.rl.close());
    this.prompt();
    for await (const line of this.rl) {
      await this.handle(line.trim());
      if (this.closed) break;
      this.prompt();
    }
    await this.system.stop();
    this.print("bye.");
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
          return this.kill();
        case "/crash":
          return this.crash();
        case "/history":
          return await this.history();
        case "/end":
          return await this.end();
        case "/quit":
          this.closed = true;
          this.rl.close();
          return;
        default:
          return this.print(`unknown command ${command}; /help lists them`);
      }
    } catch (error) {
      this.print(`error: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async send(text: string): Promise<void> {
    const id = this.current;
    if (!id) return this.print("no session; /new opens one");
    this.streaming = true;
    try {
      await this.system.sendMessage(id, text);
      this.out.write("\n");
    } catch (error) {
      this.out.write("\n");
      this.print(`error: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.streaming = false;
    }
  }

  private async open(name?: string): Promise<void> {
    const info = await this.system.createSession({ name: name ?? `session ${this.sessions.length + 1}` });
    this.sessions.push(info);
    this.current = info.id;
    this.print(`opened session ${this.sessions.length} (${info.id})`);
  }

  private async list(): Promise<void> {
    const live = new Map((await this.system.listSessions()).map((s) => [s.id, s]));
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
    if (!target || !(await this.system.getSession(target.id)))
      return this.print(`no live session ${arg}; /list shows them`);
    this.current = target.id;
    this.print(`switched to session ${index + 1}`);
  }

  private kill(): void {
    const pid = this.current ? this.system.findSupervisor(this.current) : undefined;
    if (!pid) {
      this.print("the current session has no running supervisor");
      return;
    }
    this.print(`killing supervisor ${pid} of session ${this.number(this.current)}`);
    this.system.runtime.exit(pid as Pid, "kill");
  }

  private crash(): void {
    const pid = this.current ? this.system.getOrchestratorPid(this.current) : undefined;
    if (!pid) {
      this.print("the current session has no running orchestrator");
      return;
    }
    this.print(`crashing LLM orchestrator ${pid}`);
    this.system.runtime.exit(pid, new Error("crashed on purpose from the chat"));
  }

  private async history(): Promise<void> {
    if (!this.current) return this.print("no session");
    for (const turn of await this.system.getHistory(this.current))
      this.print(`${turn.role}: ${turn.content}`);
  }

  private async end(): Promise<void> {
    if (!this.current) return this.print("no session");
    const n = this.number(this.current);
    await this.system.terminateSession(this.current);
    this.current = undefined;
    this.print(`session ${n} terminated; /switch or /new`);
  }

  private onEvent(event: SessionEvent): void {
    if (event.type === "llm_delta" && event.sessionId === this.current && this.streaming) {
      this.out.write(event.text);
      return;
    }
    const n = this.number(event.sessionId);
    if (event.type === "session_status" && event.previousStatus !== "initializing") {
      this.print(`  [session ${n}: ${event.previousStatus} -> ${event.status}]`);
    } else if (event.type === "session_crashed") {
      this.print(`  [session ${n} crashed: ${describeReason(event.reason)}]`);
    }
  }

  private number(id: string | undefined): number {
    return this.sessions.findIndex((s) => s.id === id) + 1;
  }

  private prompt(): void {
    const n = this.number(this.current);
    this.rl.setPrompt(this.current ? `[${n}]> ` : "[-]> ");
    this.rl.prompt();
  }

  private print(text: string): void {
    this.out.write(`${text}\n`);
  }
}
