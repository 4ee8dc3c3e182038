import { useEffect, useState } from "preact/hooks";
import { api, stream } from "../api.js";
import { hostPlace, memoryOf, time } from "../format.js";
import { observer } from "../observer-state.js";
import { useStore } from "../store.js";
import type { ConversationTurn, SessionEvent, SessionFiles } from "../types.js";
import { Conversation } from "./Conversation.js";
import { EventLog } from "./EventLog.js";
import { ProcessRows } from "./ProcessRows.js";
import { StatusBadge } from "./StatusBadge.js";

/** Events kept on the page. */
const KEPT_EVENTS = 300;

interface Live {
  events: SessionEvent[];
  /** Every status the session went through while watched (and in its replayed events). */
  statuses: string[];
  turns: ConversationTurn[];
  /** The reply being streamed, by turn: its deltas joined. */
  streaming: { turnId: string; text: string; deltas: number } | undefined;
  /** How many deltas the last reply streamed in (shown, and what the browser test checks). */
  lastDeltas: number;
}

const empty = (): Live => ({ events: [], statuses: [], turns: [], streaming: undefined, lastDeltas: 0 });

function addTurn(turns: ConversationTurn[], turn: ConversationTurn): ConversationTurn[] {
  const at = turns.findIndex((t) => t.id === turn.id);
  if (at < 0) return [...turns, turn];
  const next = [...turns];
  next[at] = turn;
  return next;
}

function apply(live: Live, event: SessionEvent): Live {
  const next: Live = { ...live };
  if (event.type !== "llm_delta") next.events = [...live.events.slice(-(KEPT_EVENTS - 1)), event];
  switch (event.type) {
    case "session_status":
      if (event.status) next.statuses = [...live.statuses, event.status];
      break;
    case "llm_delta": {
      const same = live.streaming?.turnId === event.turnId ? live.streaming : undefined;
      next.streaming = {
        turnId: event.turnId ?? "",
        text: (same?.text ?? "") + (event.text ?? ""),
        deltas: (same?.deltas ?? 0) + 1,
      };
      break;
    }
    case "message_added":
    case "turn_interrupted":
    case "turn_cancelled":
    case "turn_timed_out":
      if (event.turn) next.turns = addTurn(live.turns, event.turn);
      if (event.turn?.role === "assistant") next.streaming = undefined;
      break;
    case "llm_done":
    case "llm_error":
      next.streaming = undefined;
      break;
  }
  if (live.streaming && !next.streaming) next.lastDeltas = live.streaming.deltas;
  return next;
}

/** One session: its processes (with kill buttons in development mode), its conversation live, its events and files. */
export function SessionPage({ id }: { id: string }) {
  const state = useStore(observer);
  const session = state.sessions.get(id);
  const [live, setLive] = useState<Live>(empty);
  const [files, setFiles] = useState<SessionFiles | undefined>();
  const [problem, setProblem] = useState<string | undefined>();

  useEffect(() => {
    setLive(empty());
    // Its events from the first one kept (the reply being streamed, the statuses it went
    // through), then live; the history fills in what the kept events no longer hold.
    const stop = stream(`/v1/sessions/${id}/events?since=0`, {
      resume: true,
      onMessage: (message) => {
        if (message.event === "error") return;
        const event = JSON.parse(message.data) as SessionEvent;
        setLive((current) => apply(current, event));
      },
      onDown: (error) => setProblem(error instanceof Error ? error.message : String(error)),
      onOpen: () => setProblem(undefined),
    });
    api<{ turns: ConversationTurn[] }>("GET", `/v1/sessions/${id}/history`)
      .then(({ turns }) =>
        setLive((current) => ({ ...current, turns: turns.reduce(addTurn, current.turns) })),
      )
      .catch((e: Error) => setProblem(e.message));
    return stop;
  }, [id]);

  const lastEvent = live.events.at(-1);
  useEffect(() => {
    api<SessionFiles>("GET", `/v1/sessions/${id}/files`)
      .then(setFiles)
      .catch(() => setFiles(undefined));
  }, [id, lastEvent?.type === "context_updated" ? lastEvent.seq : 0]);

  const send = async (text: string) => {
    setProblem(undefined);
    try {
      await api("POST", `/v1/sessions/${id}/messages`, { text });
    } catch (e) {
      setProblem((e as Error).message);
    }
  };

  const killHost = async (hostId: string) => {
    try {
      await api("POST", `/v1/hosts/${encodeURIComponent(hostId)}/kill`, {});
    } catch (e) {
      setProblem((e as Error).message);
    }
  };

  return (
    <main class="session-page" data-testid="session-page" data-session-id={id}>
      <div class="session-head">
        <a href="#/">← all sessions</a>
        <h2>{session?.name ?? id}</h2>
        <span data-testid="session-head-status">{session && <StatusBadge status={session.status} />}</span>
        {session && <span class="muted">restarts {session.restarts}</span>}
        {session?.node !== undefined && (
          <span class="muted" data-testid="session-page-node">
            on node {session.node}
          </span>
        )}
        {session?.projectPath && <code class="muted">{session.projectPath}</code>}
      </div>
      {problem && (
        <p class="error" data-testid="problem">
          {problem}
        </p>
      )}
      <section class="panel">
        <h3>Status</h3>
        <ol class="trail" data-testid="status-trail">
          {live.statuses.map((s, i) => (
            <li key={i}>{s}</li>
          ))}
        </ol>
        {session?.lastCrash && (
          <p class="crash" data-testid="last-crash">
            last crash at {time(session.lastCrash.at)}: {session.lastCrash.reason}
          </p>
        )}
      </section>
      <div class="columns">
        <section class="panel">
          <h3>Conversation</h3>
          <Conversation
            turns={live.turns}
            streaming={live.streaming}
            lastDeltas={live.lastDeltas}
            onSend={send}
          />
        </section>
        <section class="panel">
          <h3>Processes</h3>
          {session?.host && session.host.kind !== "inline" && (
            <div class="prow" data-testid="host">
              host {session.host.id} <span class="tag">{session.host.kind}</span>
              <span class="muted">{hostPlace(session.host)}</span>
              <span title="heap used">{memoryOf(session.host.memory)}</span>
              {state.dev && (
                <button
                  type="button"
                  class="danger"
                  data-testid="kill-host"
                  onClick={() => session.host && killHost(session.host.id)}
                >
                  kill host
                </button>
              )}
            </div>
          )}
          {session?.supervisor ? (
            <ProcessRows process={session.supervisor} dev={state.dev} label="session supervisor" />
          ) : (
            <p class="muted">not running</p>
          )}
          <h3>Files</h3>
          <ul class="files" data-testid="files">
            {files === undefined ? (
              <li class="muted">not available while the session is not running</li>
            ) : files.index.length === 0 ? (
              <li class="muted">no files in its context</li>
            ) : (
              files.index.map((f) => (
                <li key={f.path} class={files.active.includes(f.path) ? "active" : ""}>
                  <code>{f.path}</code> <span class="muted">×{f.accessCount}</span>
                </li>
              ))
            )}
          </ul>
        </section>
      </div>
      <section class="panel">
        <h3>Events</h3>
        <EventLog events={live.events} />
      </section>
    </main>
  );
}
