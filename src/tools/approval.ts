/** What the approval policy decides for a kind of tool call. */
export type ApprovalPolicy = "auto" | "ask" | "deny";

/** Which calls need approval: reads never do; writes (write_file, edit) and commands (run_command) may. */
export type ToolKind = "read" | "write" | "command";

/** The policy per kind of call that can change things. */
export interface ApprovalPolicies {
  write: ApprovalPolicy;
  command: ApprovalPolicy;
}

export const DEFAULT_APPROVAL: Readonly<ApprovalPolicies> = Object.freeze({ write: "auto", command: "auto" });

/** A call awaiting approval, as an approver sees it (input already validated). */
export interface ToolCallRequest {
  /** The model's id for the call, when it gave one. */
  id?: string;
  tool: string;
  kind: ToolKind;
  input: unknown;
}

/** The answer of an approver; a bare boolean is accepted too. */
export interface ApprovalDecision {
  approved: boolean;
  /** Told to the model when the call is refused. */
  reason?: string;
}

/**
 * Decides an `ask` call: the session pauses the turn, emits an event and resolves when someone
 * approves or denies (or its own timeout passes). The signal fires if the turn is cancelled meanwhile.
 */
export type Approver = (call: ToolCallRequest, signal: AbortSignal) => Promise<boolean | ApprovalDecision>;
