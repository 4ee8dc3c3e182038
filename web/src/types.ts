// The shapes the observer reads. The tree stream's types are the server's own (a file with no
// imports, so nothing of the server lands in the bundle); the rest are what the page uses of
// the API's JSON.
export type {
  ObservedHost,
  ObservedProcess,
  ObservedSession,
  TreeStreamChanges,
  TreeStreamSnapshot,
} from "../../src/server/observer-types.js";

/** A session event as the SSE streams send it (only the fields the page reads are named). */
export interface SessionEvent {
  type: string;
  sessionId: string;
  seq?: number;
  at?: string;
  status?: string;
  previousStatus?: string;
  reason?: unknown;
  turnId?: string;
  text?: string;
  turn?: ConversationTurn;
  info?: { id: string; name?: string; status: string; createdAt: string };
}

export interface ConversationTurn {
  id: string;
  role: string;
  content: string;
  at: string;
  status: string;
}

export interface SessionFiles {
  active: string[];
  index: { path: string; lastAccessed: string; accessCount: number }[];
}
