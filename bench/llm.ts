// The `llm` suite: what sessionvisor adds to a model turn, measured against the AI SDK called
// directly on the same local OpenAI-compatible server (bench/model-server.ts, in a child
// process); what the tool loop adds per tool call; and 1,000 sessions streaming at once.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { type LanguageModel, type ModelMessage, streamText } from "ai";
import {
  defaultProviders,
  Project,
  readFileTool,
  type SessionEvent,
  type SessionInfo,
  SessionSystem,
  silentLogger,
  ToolContext,
} from "../src/index.js";
import { type BenchModelServer, forkModelServer, replyTokens } from "./model-server.js";
import { heapAfterGc, percentile } from "./stats.js";
import { type Figure, renderTable } from "./table.js";

// The SDK prints a warning per request for settings a backend ignores; none apply here.
(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

/** Tokens in each measured reply. */
export const TURN_TOKENS = 20;
const MODEL = "bench-model";

export interface Latency {
  medianMs: number;
  p99Ms: number;
}

export interface TurnOverheadFigures {
  /** (a) streamText on the server, fullStream consumed. */
  direct: Latency;
  /** (b) system.sendMessage on a session whose llm config points at the same server. */
  session: Latency;
  /** (c) as (b), with a subscriber on the session counting its llm_delta events. */
  subscribed: Latency;
  /**
   * (a) against (a) with an abort signal (a fresh controller's each turn), as a program must pass
   * to make a turn cancellable and a session's turn always does: the SDK and fetch then follow
   * it (listeners, a finalizer). Measured in a pass of their own after (a), (b) and (c), the two
   * interleaved, so that the goal's figures are measured as before.
   */
  abortable: { direct: Latency; withSignal: Latency };
  /**
   * (b) against the model's own `doStream` called directly with an abort signal, as a session's
   * provider calls it for the backends shipped (streamText's layers left out): what sessionvisor
   * itself adds to a turn. In a pass of their own after the others, the two interleaved.
   */
  ownOverhead: { modelDirect: Latency; session: Latency };
  samples: number;
}

export type ToolLoopFigures =
  | {
      landed: true;
      /** A turn that reads a file with read_file, then answers. */
      toolTurn: Latency;
      /** The same session, a turn streaming the same answer without a tool call. */
      plainTurn: Latency;
      /** readFileTool.execute on the same file, called directly. */
      directToolMs: number;
      overheadPerCallMs: number;
    }
  | { landed: false; why: string };

export interface ConcurrentFigures {
  sessions: number;
  tokens: number;
  tokenDelayMs: number;
  wallMs: number;
  turnsPerSec: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** heapUsed at its highest while the turns ran, above the heap before the sessions were created. */
  heapPeakMb: number;
  /** Heap after a collection with the sessions idle after their turn, above the same baseline. */
  heapAfterMb: number;
}

export interface LlmFigures {
  turns: TurnOverheadFigures;
  tools: ToolLoopFigures;
  concurrent: ConcurrentFigures;
  /** The same streams through streamText alone, for comparison. */
  concurrentDirect: ConcurrentFigures;
}

function latency(samplesMs: Float64Array): Latency {
  const sorted = Float64Array.from(samplesMs).sort();
  return { medianMs: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
}

function median(samplesMs: Float64Array): number {
  return percentile(Float64Array.from(samplesMs).sort(), 50);
}

/**
 * Per-turn cost of (a) the AI SDK alone, (b) a session's turn and (c) a session's turn with a
 * subscriber, the three interleaved round by round so that a machine busy with other work
 * slows all three alike. Each of (a), (b) and (c) keeps `conversations` conversations and
 * serves them in turn, so each request carries the same growing history: (a) sends exactly
 * the messages a session sends (checked on the first turn by the replies matching).
 */
export async function measureTurnOverhead(
  server: BenchModelServer,
  samples = 1500,
  warmup = 300,
  conversations = 100,
): Promise<TurnOverheadFigures> {
  const baseURL = `${server.url}/n${TURN_TOKENS}/d0/v1`;
  const expected = replyTokens(TURN_TOKENS).join("");

  // (a) The SDK as a program would call it: one model object, a streamText per turn.
  const model = createOpenAICompatible({ name: "bench", baseURL, includeUsage: true }).chatModel(MODEL);
  const histories: ModelMessage[][] = Array.from({ length: conversations }, () => []);
  const direct = async (i: number, text: string): Promise<void> => {
    const history = histories[i % conversations] as ModelMessage[];
    history.push({ role: "user", content: text });
    const reply = await streamDirect(model, history);
    if (reply !== expected) throw new Error(`(a) unexpected reply ${JSON.stringify(reply)}`);
    history.push({ role: "assistant", content: reply });
  };

  // (b) and (c): sessions on the same server through the openai-compatible backend.
  const system = await SessionSystem.start({
    logger: silentLogger(),
    providers: defaultProviders({}, { maxRetries: 0 }),
    idleSweepMs: 60_000,
  });
  const llm = { provider: "openai-compatible", model: MODEL, baseURL };
  const plain: SessionInfo[] = [];
  const watched: SessionInfo[] = [];
  let deltas = 0;
  for (let i = 0; i < conversations; i++) {
    plain.push(await system.createSession({ llm }));
    const s = await system.createSession({ llm });
    watched.push(s);
    await system.subscribe(s.id, (event: SessionEvent) => {
      if (event.type === "llm_delta") deltas++;
    });
  }
  const viaSession = async (sessions: SessionInfo[], i: number, text: string): Promise<void> => {
    const reply = await system.sendMessage((sessions[i % conversations] as SessionInfo).id, text);
    if (reply.text !== expected) throw new Error(`unexpected reply ${JSON.stringify(reply.text)}`);
  };

  const times = await interleaved(
    [
      (i, text) => direct(i, text),
      (i, text) => viaSession(plain, i, text),
      (i, text) => viaSession(watched, i, text),
    ],
    warmup,
    samples,
  );
  // Sessions of their own, whose conversations grow as the doStream ones do.
  const fresh: SessionInfo[] = [];
  for (let i = 0; i < conversations; i++) fresh.push(await system.createSession({ llm }));
  const ownOverhead = await measureOwnOverhead(model, expected, samples, warmup, conversations, (i, text) =>
    viaSession(fresh, i, text),
  );
  await system.stop();
  const abortable = await measureAbortSignal(model, expected, samples, warmup, conversations);
  if (deltas !== (warmup + samples) * TURN_TOKENS) {
    throw new Error(
      `the subscriber counted ${deltas} llm_delta events, not ${(warmup + samples) * TURN_TOKENS}`,
    );
  }
  return {
    direct: latency(times[0] as Float64Array),
    session: latency(times[1] as Float64Array),
    subscribed: latency(times[2] as Float64Array),
    abortable,
    ownOverhead,
    samples,
  };
}

/** See TurnOverheadFigures.ownOverhead. */
async function measureOwnOverhead(
  model: LanguageModel,
  expected: string,
  samples: number,
  warmup: number,
  conversations: number,
  viaSession: (i: number, text: string) => Promise<void>,
): Promise<TurnOverheadFigures["ownOverhead"]> {
  const modelV3 = model as Extract<LanguageModel, { specificationVersion: "v3" }>;
  type Prompt = Parameters<typeof modelV3.doStream>[0]["prompt"];
  const histories = Array.from({ length: conversations }, (): Prompt => []);
  const modelDirect = async (i: number, text: string): Promise<void> => {
    const history = histories[i % conversations] as Prompt;
    history.push({ role: "user", content: [{ type: "text", text }] });
    const { stream } = await modelV3.doStream({
      prompt: history,
      temperature: 0.2,
      maxOutputTokens: 1024,
      abortSignal: new AbortController().signal,
    });
    const reader = stream.getReader();
    let reply = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.type === "text-delta") reply += value.delta;
      else if (value.type === "error") throw value.error;
    }
    if (reply !== expected) throw new Error(`(d) unexpected reply ${JSON.stringify(reply)}`);
    history.push({ role: "assistant", content: [{ type: "text", text: reply }] });
  };
  const times = await interleaved([modelDirect, viaSession], warmup, samples);
  return { modelDirect: latency(times[0] as Float64Array), session: latency(times[1] as Float64Array) };
}

type Turn = (round: number, text: string) => Promise<void>;

/**
 * Runs each of `runs` once a round with message `message <round>`, their order rotating so that
 * none always runs right after another; the times of the rounds after `warmup`, per run, in ms.
 */
async function interleaved(runs: Turn[], warmup: number, samples: number): Promise<Float64Array[]> {
  const times = runs.map(() => new Float64Array(samples));
  for (let round = 0; round < warmup + samples; round++) {
    const text = `message ${round}`;
    for (let k = 0; k < runs.length; k++) {
      const which = (round + k) % runs.length;
      const start = performance.now();
      await (runs[which] as Turn)(round, text);
      const elapsed = performance.now() - start;
      if (round >= warmup) (times[which] as Float64Array)[round - warmup] = elapsed;
    }
  }
  return times;
}

/** See TurnOverheadFigures.abortable. */
async function measureAbortSignal(
  model: LanguageModel,
  expected: string,
  samples: number,
  warmup: number,
  conversations: number,
): Promise<TurnOverheadFigures["abortable"]> {
  const histories = [0, 1].map(() => Array.from({ length: conversations }, (): ModelMessage[] => []));
  const times = [new Float64Array(samples), new Float64Array(samples)];
  for (let round = 0; round < warmup + samples; round++) {
    for (let k = 0; k < 2; k++) {
      const which = (round + k) % 2;
      const history = (histories[which] as ModelMessage[][])[round % conversations] as ModelMessage[];
      history.push({ role: "user", content: `message ${round}` });
      const start = performance.now();
      const reply = await streamDirect(
        model,
        history,
        which === 1 ? new AbortController().signal : undefined,
      );
      const elapsed = performance.now() - start;
      if (reply !== expected) throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
      history.push({ role: "assistant", content: reply });
      if (round >= warmup) (times[which] as Float64Array)[round - warmup] = elapsed;
    }
  }
  return { direct: latency(times[0] as Float64Array), withSignal: latency(times[1] as Float64Array) };
}

const SMALL_FILE = "small.txt";
const SMALL_TEXT = "line one of a small file\nline two\nline three\n";

/**
 * A session with a project and the offline model: `tool read_file small.txt` (one read_file
 * call, then the model's summary) against a turn streaming the same summary without a call
 * (`echo <summary>`), in the same sessions, interleaved with read_file called directly on the
 * same file. What the loop adds per call is the difference of the turns' medians less what
 * read_file itself costs.
 */
export async function measureToolLoop(samples = 1000, warmup = 200): Promise<ToolLoopFigures> {
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-bench-llm-"));
  writeFileSync(join(dir, SMALL_FILE), SMALL_TEXT);
  const system = await SessionSystem.start({ logger: silentLogger(), idleSweepMs: 60_000 });
  try {
    const toolMessage = `tool read_file ${SMALL_FILE}`;
    const config = { projectPath: dir, llm: { provider: "offline" } };
    // Did the loop run? The probe's events say whether a tool ran, whatever they are named.
    const probe = await system.createSession(config);
    let toolEvents = 0;
    await system.subscribe(probe.id, (event: SessionEvent) => {
      if (event.type.startsWith("tool_")) toolEvents++;
    });
    let summary: string;
    try {
      summary = (await system.sendMessage(probe.id, toolMessage)).text;
    } catch (error) {
      return { landed: false, why: `the tool turn failed: ${(error as Error).message}` };
    }
    if (toolEvents === 0) return { landed: false, why: "loop not landed" };
    // Sessions with a bounded history each, served in turn: every turn sees the same context size.
    const sessions: SessionInfo[] = [];
    for (let i = 0; i < 50; i++) sessions.push(await system.createSession(config));
    const plainMessage = `echo ${summary}`;
    const context = new ToolContext({ project: await Project.open(dir) });
    const tool = new Float64Array(samples);
    const plain = new Float64Array(samples);
    const direct = new Float64Array(samples);
    const steps: [() => Promise<unknown>, Float64Array][] = [];
    let id = "";
    const turn = (message: string) => async () => {
      const reply = await system.sendMessage(id, message);
      if (reply.text !== summary) throw new Error(`unexpected reply ${JSON.stringify(reply.text)}`);
    };
    steps.push(
      [turn(toolMessage), tool],
      [turn(plainMessage), plain],
      [() => readFileTool.execute({ path: SMALL_FILE }, context), direct],
    );
    // The three interleaved, their order rotating, so that other work on the machine slows all alike.
    for (let round = 0; round < warmup + samples; round++) {
      id = (sessions[round % sessions.length] as SessionInfo).id;
      for (let k = 0; k < 3; k++) {
        const [step, into] = steps[(round + k) % 3] as [() => Promise<unknown>, Float64Array];
        const start = performance.now();
        await step();
        if (round >= warmup) into[round - warmup] = performance.now() - start;
      }
    }
    const toolTurn = latency(tool);
    const plainTurn = latency(plain);
    const directToolMs = median(direct);
    return {
      landed: true,
      toolTurn,
      plainTurn,
      directToolMs,
      overheadPerCallMs: toolTurn.medianMs - plainTurn.medianMs - directToolMs,
    };
  } finally {
    await system.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Wall time, event-loop delay and peak heap while `send` runs the concurrent turns. */
async function timeConcurrently(
  count: number,
  expected: string,
  send: (i: number) => Promise<string>,
): Promise<{ wallMs: number; loopDelayP99Ms: number; loopDelayMaxMs: number; peakHeap: number }> {
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }, 10);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const start = performance.now();
  const replies = await Promise.allSettled(Array.from({ length: count }, (_, i) => send(i)));
  const wallMs = performance.now() - start;
  delay.disable();
  clearInterval(sampler);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  const failed = replies.filter((r) => r.status === "rejected" || r.value !== expected);
  if (failed.length > 0) {
    const first = failed[0] as PromiseSettledResult<string>;
    const why = first.status === "rejected" ? String(first.reason) : JSON.stringify(first.value);
    throw new Error(`${failed.length} of ${count} concurrent turns failed; first: ${why}`);
  }
  return {
    wallMs,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMaxMs: delay.max / 1e6,
    peakHeap,
  };
}

/**
 * `sessions` sessions each send one message at the same moment; the server streams `tokens`
 * tokens to each with `tokenDelayMs` between them. Wall time from the sends to the last
 * reply, the event loop's delay while they ran (sampled every ms), and the heap. With
 * `direct`, the same number of streamText calls at once instead, with no session.
 */
export async function measureConcurrent(
  server: BenchModelServer,
  mode: "sessions" | "direct",
  sessions = 1000,
  tokens = 20,
  tokenDelayMs = 5,
): Promise<ConcurrentFigures> {
  const baseURL = `${server.url}/n${tokens}/d${tokenDelayMs}/v1`;
  const expected = replyTokens(tokens).join("");
  const figures = (
    timed: Awaited<ReturnType<typeof timeConcurrently>>,
    heapBefore: number,
    heapAfter: number,
  ): ConcurrentFigures => ({
    sessions,
    tokens,
    tokenDelayMs,
    wallMs: timed.wallMs,
    turnsPerSec: sessions / (timed.wallMs / 1000),
    loopDelayP99Ms: timed.loopDelayP99Ms,
    loopDelayMaxMs: timed.loopDelayMaxMs,
    heapPeakMb: (timed.peakHeap - heapBefore) / 1024 / 1024,
    heapAfterMb: (heapAfter - heapBefore) / 1024 / 1024,
  });

  if (mode === "direct") {
    const model = createOpenAICompatible({ name: "bench", baseURL, includeUsage: true }).chatModel(MODEL);
    const turn = async (): Promise<string> => {
      return streamDirect(model, [{ role: "user", content: "hello" }]);
    };
    for (let i = 0; i < 20; i++) await turn();
    const heapBefore = heapAfterGc() ?? process.memoryUsage().heapUsed;
    const timed = await timeConcurrently(sessions, expected, turn);
    return figures(timed, heapBefore, heapAfterGc() ?? process.memoryUsage().heapUsed);
  }

  const system = await SessionSystem.start({
    logger: silentLogger(),
    providers: defaultProviders({}, { maxRetries: 0 }),
    idleSweepMs: 60_000,
  });
  try {
    const llm = { provider: "openai-compatible", model: MODEL, baseURL };
    // Warm the path with one session's turns.
    const warm = await system.createSession({ llm });
    for (let i = 0; i < 20; i++) await system.sendMessage(warm.id, `warm ${i}`);
    await system.terminateSession(warm.id);

    const heapBefore = heapAfterGc() ?? process.memoryUsage().heapUsed;
    const all: SessionInfo[] = [];
    for (let i = 0; i < sessions; i++) all.push(await system.createSession({ llm }));
    const timed = await timeConcurrently(
      sessions,
      expected,
      async (i) => (await system.sendMessage((all[i] as SessionInfo).id, "hello")).text,
    );
    return figures(timed, heapBefore, heapAfterGc() ?? process.memoryUsage().heapUsed);
  } finally {
    await system.stop();
  }
}

export async function measureLlm(): Promise<LlmFigures> {
  const server = await forkModelServer();
  try {
    const turns = await measureTurnOverhead(server);
    const tools = await measureToolLoop();
    const concurrentDirect = await measureConcurrent(server, "direct");
    const concurrent = await measureConcurrent(server, "sessions");
    return { turns, tools, concurrent, concurrentDirect };
  } finally {
    await server.close();
  }
}

/** The overhead goals of the issue, each with whether this run met it. */
export function llmGoals(f: LlmFigures): { text: string; met: boolean | undefined }[] {
  const overhead = f.turns.session.medianMs - f.turns.direct.medianMs;
  return [
    {
      text: `sessionvisor's overhead per 20-token streamed turn ≤ 5 % of the direct turn (${format(
        (100 * overhead) / f.turns.direct.medianMs,
      )} %)`,
      met: overhead <= 0.05 * f.turns.direct.medianMs,
    },
    { text: `the same overhead ≤ 1 ms absolute (${format(overhead)} ms)`, met: overhead <= 1 },
    f.tools.landed
      ? {
          text: `tool-loop overhead per tool call ≤ 0.5 ms (${format(f.tools.overheadPerCallMs)} ms)`,
          met: f.tools.overheadPerCallMs <= 0.5,
        }
      : { text: `tool-loop overhead per tool call ≤ 0.5 ms (not measured: ${f.tools.why})`, met: undefined },
  ];
}

function format(value: number): string {
  return Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** The suite's table: sessionvisor beside the AI SDK called directly, then the goals. */
export function llmTable(f: LlmFigures): string {
  const { turns, tools, concurrent: c, concurrentDirect: d } = f;
  const overhead = turns.session.medianMs - turns.direct.medianMs;
  const overheadSubscribed = turns.subscribed.medianMs - turns.direct.medianMs;
  const shape = `${c.sessions.toLocaleString("en-US")} sessions × ${c.tokens} tokens ${c.tokenDelayMs} ms apart, at once`;
  const figure = (
    name: string,
    unit: string,
    ours: number | undefined,
    direct: number | undefined,
    goal?: Figure["goal"],
  ): Figure => ({ name, unit, ours, otp: direct, higherIsBetter: false, ...(goal ? { goal } : {}) });
  const figures: Figure[] = [
    figure(
      `${TURN_TOKENS}-token streamed turn: sendMessage, median`,
      "ms",
      turns.session.medianMs,
      turns.direct.medianMs,
    ),
    figure(
      `${TURN_TOKENS}-token streamed turn: sendMessage, p99`,
      "ms",
      turns.session.p99Ms,
      turns.direct.p99Ms,
    ),
    figure(
      "same, with a subscriber counting llm_delta, median",
      "ms",
      turns.subscribed.medianMs,
      turns.direct.medianMs,
    ),
    figure(
      "same, with a subscriber counting llm_delta, p99",
      "ms",
      turns.subscribed.p99Ms,
      turns.direct.p99Ms,
    ),
    figure("orchestrator overhead per turn (sendMessage − direct), median", "ms", overhead, undefined, {
      text: "≤ 1 ms",
      met: (v) => v <= 1,
    }),
    figure(
      "orchestrator overhead per turn, % of the direct turn",
      "%",
      (100 * overhead) / turns.direct.medianMs,
      undefined,
      { text: "≤ 5 %", met: (v) => v <= 5 },
    ),
    figure("overhead with the subscriber (− direct), median", "ms", overheadSubscribed, undefined),
    figure(
      `${TURN_TOKENS}-token streamed turn: direct with an abort signal (as a cancellable turn needs), median`,
      "ms",
      undefined,
      turns.abortable.withSignal.medianMs,
    ),
    figure(
      "what the abort signal costs the direct turn (− direct, in a pass of their own), median",
      "ms",
      undefined,
      turns.abortable.withSignal.medianMs - turns.abortable.direct.medianMs,
    ),
    figure(
      `${TURN_TOKENS}-token streamed turn: the model's doStream called directly with an abort signal (what a session's provider calls), median`,
      "ms",
      turns.ownOverhead.session.medianMs,
      turns.ownOverhead.modelDirect.medianMs,
    ),
    figure(
      "sessionvisor's own overhead per turn (sendMessage − doStream, in a pass of their own), median",
      "ms",
      turns.ownOverhead.session.medianMs - turns.ownOverhead.modelDirect.medianMs,
      undefined,
    ),
    figure(
      "same, % of the doStream turn",
      "%",
      (100 * (turns.ownOverhead.session.medianMs - turns.ownOverhead.modelDirect.medianMs)) /
        turns.ownOverhead.modelDirect.medianMs,
      undefined,
    ),
    ...(tools.landed
      ? [
          figure(
            "turn with one read_file call + summary (offline model), median",
            "ms",
            tools.toolTurn.medianMs,
            undefined,
          ),
          figure(
            "same summary without the call (offline model), median",
            "ms",
            tools.plainTurn.medianMs,
            undefined,
          ),
          figure("readFileTool.execute called directly, median", "ms", tools.directToolMs, undefined),
          figure("tool-loop overhead per tool call", "ms", tools.overheadPerCallMs, undefined, {
            text: "≤ 0.5 ms",
            met: (v) => v <= 0.5,
          }),
        ]
      : [
          figure(
            `tool-loop overhead per tool call — not measured: ${tools.why}`,
            "ms",
            undefined,
            undefined,
            {
              text: "≤ 0.5 ms",
              met: (v) => v <= 0.5,
            },
          ),
        ]),
    figure(`${shape}: wall time`, "ms", c.wallMs, d.wallMs),
    { ...figure(`${shape}: turns/s`, "/s", c.turnsPerSec, d.turnsPerSec), higherIsBetter: true },
    figure(`${shape}: event-loop delay p99`, "ms", c.loopDelayP99Ms, d.loopDelayP99Ms),
    figure(`${shape}: event-loop delay max`, "ms", c.loopDelayMaxMs, d.loopDelayMaxMs),
    figure(`${shape}: heap at peak, above the start`, "MB", c.heapPeakMb, d.heapPeakMb),
    figure(`${shape}: heap after (sessions idle), above the start`, "MB", c.heapAfterMb, d.heapAfterMb),
  ];
  const goals = llmGoals(f).map(
    (g) => `- ${g.text}: ${g.met === undefined ? "not measured" : g.met ? "met" : "NOT met"}`,
  );
  return [
    renderTable(
      `llm: a session's turn against the AI SDK called directly on the same local server (${turns.samples} turns each, interleaved)`,
      figures,
      { name: "AI SDK direct" },
    ),
    "",
    "Goals:",
    ...goals,
  ].join("\n");
}

/** One turn through the AI SDK alone, with a session's settings: the reply's text. */
async function streamDirect(
  model: LanguageModel,
  messages: ModelMessage[],
  abortSignal?: AbortSignal,
): Promise<string> {
  const result = streamText({
    model,
    messages,
    temperature: 0.2,
    maxOutputTokens: 1024,
    ...(abortSignal ? { abortSignal } : {}),
    maxRetries: 0,
    onError: () => {},
  });
  let reply = "";
  for await (const part of result.fullStream) {
    if (part.type === "text-delta") reply += part.text;
    else if (part.type === "error") throw part.error;
  }
  return reply;
}
