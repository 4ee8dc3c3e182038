/** Bytes as the observer shows them: 12.3 MB. */
export function bytes(value: number | undefined): string {
  if (value === undefined) return "";
  if (value < 1024) return `${value} B`;
  const units = ["KB", "MB", "GB"];
  let at = value / 1024;
  let unit = 0;
  while (at >= 1024 && unit < units.length - 1) {
    at /= 1024;
    unit++;
  }
  return `${at.toFixed(at < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Where a host runs: its OS process, and its thread for a thread host. */
export function hostPlace(host: { osPid?: number | undefined; threadId?: number | undefined }): string {
  if (host.osPid === undefined) return "";
  return `pid ${host.osPid}${host.threadId === undefined ? "" : ` thread ${host.threadId}`}`;
}

/** A host's memory in one figure: its heap, else its resident set. */
export function memoryOf(memory: Record<string, number> | undefined): string {
  if (!memory) return "";
  const value = memory.heapUsed ?? memory.rss ?? Object.values(memory)[0];
  return bytes(value);
}

export function time(iso: string | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString();
}
