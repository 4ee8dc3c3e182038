import { hostPlace, memoryOf } from "../format.js";
import { sessionHref } from "../router.js";
import type { ObservedHost, ObservedProcess, ObservedSession } from "../types.js";
import { StatusBadge } from "./StatusBadge.js";
import { VirtualList } from "./VirtualList.js";

/** One line of the tree: a session, its host, or one of its processes. */
export type Row =
  | { kind: "session"; session: ObservedSession }
  | { kind: "host"; session: ObservedSession; host: ObservedHost }
  | { kind: "process"; session: ObservedSession; process: ObservedProcess; depth: number };

const ROW_HEIGHT = 30;

function mailboxOf(process: ObservedProcess | undefined): number {
  if (!process) return 0;
  return (process.mailbox ?? 0) + (process.children ?? []).reduce((sum, c) => sum + mailboxOf(c), 0);
}

interface Props {
  rows: Row[];
  expanded: ReadonlySet<string>;
  expandAll: boolean;
  onToggle: (id: string) => void;
}

export function SessionTree({ rows, expanded, expandAll, onToggle }: Props) {
  return (
    <div class="tree" data-testid="session-tree">
      <div class="row head">
        <span class="col-name">session / process</span>
        <span class="col-status">status</span>
        <span class="col-num">restarts</span>
        <span class="col-num">mailbox</span>
        <span class="col-mem">memory</span>
        <span class="col-crash">last crash</span>
      </div>
      <VirtualList
        items={rows}
        rowHeight={ROW_HEIGHT}
        keyOf={(row) =>
          row.kind === "session"
            ? row.session.id
            : row.kind === "host"
              ? `${row.session.id}/host`
              : `${row.session.id}/${row.process.pid}`
        }
        render={(row) => {
          if (row.kind === "session") {
            const { session } = row;
            const open = expandAll || expanded.has(session.id);
            return (
              <div
                class="row session"
                data-testid="session-row"
                data-session-id={session.id}
                data-status={session.status}
              >
                <span class="col-name">
                  <button
                    type="button"
                    class="twisty"
                    onClick={() => onToggle(session.id)}
                    aria-label="agents"
                  >
                    {open ? "▾" : "▸"}
                  </button>
                  <a href={sessionHref(session.id)}>{session.name ?? session.id}</a>
                  {session.isolation && session.isolation !== "inline" && (
                    <span class="tag">{session.isolation}</span>
                  )}
                  {session.node !== undefined && (
                    <span class="tag node" data-testid="session-node" title="the cluster node that runs it">
                      {session.node}
                    </span>
                  )}
                </span>
                <span class="col-status">
                  <StatusBadge status={session.status} />
                </span>
                <span class="col-num">{session.restarts}</span>
                <span class="col-num">{mailboxOf(session.supervisor)}</span>
                <span class="col-mem">{memoryOf(session.host?.memory)}</span>
                <span class="col-crash" title={session.lastCrash?.reason}>
                  {session.lastCrash?.reason ?? ""}
                </span>
              </div>
            );
          }
          if (row.kind === "host") {
            return (
              <div class="row host" data-testid="host-row">
                <span class="col-name">
                  <span style={{ display: "inline-block", width: "16px" }} />
                  host {row.host.id} <span class="tag">{row.host.kind}</span>{" "}
                  <span class="muted">{hostPlace(row.host)}</span>
                </span>
                <span class="col-status" />
                <span class="col-num" />
                <span class="col-num" />
                <span class="col-mem">{memoryOf(row.host.memory)}</span>
                <span class="col-crash" />
              </div>
            );
          }
          const { process, depth } = row;
          return (
            <div class="row process" data-testid="process-row" data-pid={process.pid}>
              <span class="col-name">
                <span style={{ display: "inline-block", width: `${depth * 16}px` }} />
                {process.type === "supervisor" ? "⊞ " : "• "}
                {depth === 1 ? "session supervisor" : process.id} <code>{process.pid}</code>
              </span>
              <span class="col-status">{process.status ?? ""}</span>
              <span class="col-num" />
              <span class="col-num">{process.mailbox ?? ""}</span>
              <span class="col-mem" />
              <span class="col-crash" />
            </div>
          );
        }}
      />
    </div>
  );
}
