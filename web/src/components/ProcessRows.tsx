import { useState } from "preact/hooks";
import { api } from "../api.js";
import type { ObservedProcess } from "../types.js";

interface Props {
  process: ObservedProcess;
  /** Development mode: a kill button on each process. */
  dev: boolean;
  depth?: number;
  /** Shown instead of the process's child id (the session supervisor's id is its session's). */
  label?: string;
}

/** A process and its children as nested rows (the small trees: the system's, one session's). */
export function ProcessRows({ process, dev, depth = 0, label }: Props) {
  const [error, setError] = useState<string | undefined>();
  const kill = async () => {
    setError(undefined);
    try {
      await api("POST", `/v1/processes/${encodeURIComponent(process.pid)}/kill`, {});
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <>
      <div
        class="prow"
        style={{ paddingLeft: `${depth * 16}px` }}
        data-testid="process"
        data-process-id={process.id}
      >
        <span>{process.type === "supervisor" ? "⊞" : "•"}</span>
        <span class="pid-name">{label ?? process.id}</span>
        <code>{process.pid}</code>
        <span class="muted">{process.status ?? ""}</span>
        <span class="muted">mailbox {process.mailbox ?? 0}</span>
        {dev && (
          <button type="button" class="danger" data-testid="kill-process" onClick={kill}>
            kill
          </button>
        )}
        {error && <span class="error">{error}</span>}
      </div>
      {(process.children ?? []).map((child) => (
        <ProcessRows key={child.pid} process={child} dev={dev} depth={depth + 1} />
      ))}
    </>
  );
}
