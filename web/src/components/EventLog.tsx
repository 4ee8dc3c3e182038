import { time } from "../format.js";
import { describe } from "../observer-state.js";
import type { SessionEvent } from "../types.js";

/** What one event says, briefly. */
function summary(event: SessionEvent): string {
  if (event.type === "session_status") return `${event.previousStatus} → ${event.status}`;
  if (event.turn) return `${event.turn.role}: ${event.turn.content.slice(0, 120)}`;
  if (event.type === "session_crashed") return describe(event.reason).slice(0, 200);
  if (event.type === "llm_done") return (event.text ?? "").slice(0, 120);
  return "";
}

/** The session's events, newest first. */
export function EventLog({ events }: { events: SessionEvent[] }) {
  return (
    <ol class="events" data-testid="events">
      {[...events].reverse().map((event) => (
        <li key={`${event.seq}-${event.type}`} data-testid="event-row" data-type={event.type}>
          <span class="seq">{event.seq}</span>
          <span class="etype">{event.type}</span>
          <span class="muted">{time(event.at ?? event.turn?.at)}</span>
          <span>{summary(event)}</span>
        </li>
      ))}
    </ol>
  );
}
