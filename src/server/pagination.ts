import type { SessionInfo } from "../session/index.js";
import { HttpError } from "./errors.js";

/**
 * Sessions in their stable list order, oldest first: by `createdAt`, then by id (two sessions
 * created in the same millisecond keep one order from page to page).
 */
export function compareSessions(a: SessionInfo, b: SessionInfo): number {
  const byTime = a.createdAt.getTime() - b.createdAt.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Where a page ended: the last session's place in the order. */
interface Position {
  createdAt: number;
  id: string;
}

/** An opaque cursor for the page after `last`. */
export function cursorAfter(last: SessionInfo): string {
  return Buffer.from(JSON.stringify([last.createdAt.getTime(), last.id]), "utf8").toString("base64url");
}

function decodeCursor(cursor: string): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      Number.isSafeInteger(value[0]) &&
      typeof value[1] === "string"
    ) {
      return { createdAt: value[0] as number, id: value[1] };
    }
  } catch {
    // Answered below.
  }
  throw new HttpError(400, "invalid_request", "cursor is not one a list answered with", "cursor");
}

/**
 * One page of `sessions` (already filtered): those after `cursor` in the stable order, at most
 * `limit`, and the cursor of the next page when there are more.
 */
export function pageOf(
  sessions: SessionInfo[],
  limit: number,
  cursor: string | undefined,
): { sessions: SessionInfo[]; nextCursor: string | undefined } {
  const sorted = [...sessions].sort(compareSessions);
  let from = 0;
  if (cursor !== undefined) {
    const after = decodeCursor(cursor);
    from = sorted.findIndex(
      (s) =>
        s.createdAt.getTime() > after.createdAt ||
        (s.createdAt.getTime() === after.createdAt && s.id > after.id),
    );
    if (from < 0) from = sorted.length;
  }
  const page = sorted.slice(from, from + limit);
  const last = page[page.length - 1];
  const more = from + limit < sorted.length;
  return { sessions: page, nextCursor: more && last ? cursorAfter(last) : undefined };
}
