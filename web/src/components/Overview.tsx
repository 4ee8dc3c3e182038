import { useMemo, useState } from "preact/hooks";
import { observer } from "../observer-state.js";
import { useStore } from "../store.js";
import { Charts } from "./Charts.js";
import { ProcessRows } from "./ProcessRows.js";
import { type Row, SessionTree } from "./SessionTree.js";

const STATUSES = ["all", "active", "idle", "initializing", "recovering", "failed", "terminated"];

/** The overview's filters and open rows, kept while a session's page is shown. */
const kept = {
  search: "",
  status: "all",
  expanded: new Set<string>() as ReadonlySet<string>,
  expandAll: false,
};

/** A useState whose value outlives the component, in `kept`. */
function useKept<K extends keyof typeof kept>(key: K): [(typeof kept)[K], (value: (typeof kept)[K]) => void] {
  const [value, setValue] = useState(kept[key]);
  return [
    value,
    (next) => {
      kept[key] = next;
      setValue(() => next);
    },
  ];
}

/** The live tree of every session, filtered and searched, with the charts above it. */
export function Overview() {
  const state = useStore(observer);
  const [search, setSearch] = useKept("search");
  const [status, setStatus] = useKept("status");
  const [expanded, setExpanded] = useKept("expanded");
  const [expandAll, setExpandAll] = useKept("expandAll");

  const sessions = useMemo(() => {
    const needle = search.trim().toLowerCase();
    return [...state.sessions.values()]
      .filter((s) => status === "all" || s.status === status)
      .filter(
        (s) =>
          !needle ||
          s.id.includes(needle) ||
          (s.name ?? "").toLowerCase().includes(needle) ||
          (s.node ?? "").toLowerCase().includes(needle) ||
          (s.lastCrash?.reason ?? "").toLowerCase().includes(needle),
      )
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }, [state.sessions, search, status]);

  const rows = useMemo(() => {
    const out: Row[] = [];
    for (const session of sessions) {
      out.push({ kind: "session", session });
      if (!(expandAll || expanded.has(session.id))) continue;
      if (session.host && session.host.kind !== "inline")
        out.push({ kind: "host", session, host: session.host });
      const walk = (process: NonNullable<typeof session.supervisor>, depth: number) => {
        out.push({ kind: "process", session, process, depth });
        for (const child of process.children ?? []) walk(child, depth + 1);
      };
      if (session.supervisor) walk(session.supervisor, 1);
    }
    return out;
  }, [sessions, expanded, expandAll]);

  const toggle = (id: string) => {
    const next = new Set(expanded);
    if (!next.delete(id)) next.add(id);
    setExpanded(next);
  };

  return (
    <main class="overview">
      <Charts series={state.series} />
      <section class="panel">
        <div class="toolbar">
          <input
            type="search"
            placeholder="search id, name, node, crash reason"
            value={search}
            data-testid="search"
            onInput={(e) => setSearch(e.currentTarget.value)}
          />
          <select
            value={status}
            data-testid="status-filter"
            onChange={(e) => setStatus(e.currentTarget.value)}
          >
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
          <label>
            <input
              type="checkbox"
              checked={expandAll}
              data-testid="expand-all"
              onChange={(e) => setExpandAll(e.currentTarget.checked)}
            />{" "}
            show agents
          </label>
          <span class="count" data-testid="session-count">
            {sessions.length} of {state.sessions.size} sessions
          </span>
        </div>
        <SessionTree rows={rows} expanded={expanded} expandAll={expandAll} onToggle={toggle} />
      </section>
      {state.system && (
        <section class="panel system">
          <h3>System processes</h3>
          <ProcessRows process={state.system} dev={false} />
        </section>
      )}
    </main>
  );
}
