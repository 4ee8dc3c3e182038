export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`status status-${status}`} data-testid="status-badge">
      {status}
    </span>
  );
}
