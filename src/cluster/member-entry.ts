import { z } from "zod";

/** What a node writes into the `nodes` bucket at every heartbeat (JSON, under its node id). */
export const MemberEntrySchema = z.object({
  node: z.string().min(1),
  /** Where the node answers requests: the subject prefix its router listens under. */
  subjectPrefix: z.string().min(1),
  /** Sessions the node runs now. */
  sessions: z.number().int().nonnegative(),
  /** Its resident memory, in MiB. */
  rssMb: z.number().nonnegative(),
  /**
   * It takes no new sessions while another node does: at its session system's `maxSessions`, or
   * its memory over its `maxRssMb`. Absent: not full (and from nodes of earlier versions).
   */
  full: z.boolean().optional(),
  /** When it joined, by its own clock (shown to people; never compared across machines). */
  startedAt: z.string(),
});

export type MemberEntry = z.infer<typeof MemberEntrySchema>;

/** A live node as a membership sees it: its last heartbeat's entry, and when the server stored it. */
export interface ClusterMember extends MemberEntry {
  /** The NATS server's time of the node's last heartbeat (the KV entry's `created`). */
  readonly lastSeen: Date;
}

const encoder = new TextEncoder();

export function encodeMemberEntry(entry: MemberEntry): Uint8Array {
  return encoder.encode(JSON.stringify(entry));
}

/** The entry in a KV value, or undefined when it is not one (another program's key, a newer format). */
export function decodeMemberEntry(value: Uint8Array): MemberEntry | undefined {
  try {
    const parsed = MemberEntrySchema.safeParse(JSON.parse(new TextDecoder().decode(value)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
