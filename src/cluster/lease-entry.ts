import { z } from "zod";

/**
 * The value of a session's key in the `session_owner` bucket. A claim writes `{ node }`: its
 * fence is the revision the claim got, unknown until the server answers. Renewals write
 * `{ node, fence }`, so a reader can tell the holder's fence from the key's latest revision
 * (which moves with every renewal).
 */
const LeaseEntrySchema = z.object({
  node: z.string().min(1),
  fence: z.number().int().positive().optional(),
});

export type LeaseEntry = z.infer<typeof LeaseEntrySchema>;

/** Who holds a session, and the fence of the holder's claim. */
export interface LeaseOwner {
  readonly node: string;
  readonly fence: number;
}

const encoder = new TextEncoder();

export function encodeLeaseEntry(entry: LeaseEntry): Uint8Array {
  return encoder.encode(JSON.stringify(entry));
}

/** Named as the owner of a key whose value is not a lease entry (another program wrote it). */
export const UNKNOWN_OWNER = "?";

/** The owner a stored entry names: its own fence, or (a claim) the revision it was stored at. */
export function ownerOf(value: Uint8Array, revision: number): LeaseOwner {
  try {
    const parsed = LeaseEntrySchema.safeParse(JSON.parse(new TextDecoder().decode(value)));
    if (parsed.success) return { node: parsed.data.node, fence: parsed.data.fence ?? revision };
  } catch {
    // not JSON: below
  }
  return { node: UNKNOWN_OWNER, fence: revision };
}
