import { InvalidArgumentError, registerRevivableError, SessionvisorError } from "../errors.js";

/**
 * An error of the HTTP layer itself (a body that is not JSON, a missing token, too many
 * streams): a SessionvisorError like every other, with the status it answers with.
 */
export class HttpError extends SessionvisorError {
  readonly status: number;
  /** The input at fault, as a dotted path (`text`, `limit`, `llm.temperature`). */
  readonly field: string | undefined;

  /** Headers the answer carries (`Retry-After` of a 429). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    message: string,
    field?: string,
    headers: Record<string, string> = {},
  ) {
    super(code, message);
    this.status = status;
    this.field = field;
    this.headers = headers;
  }
}

// Every exported SessionvisorError keeps its class across a host, this one too (a hosted
// module that builds a server's errors gets them back as they were).
registerRevivableError(HttpError);

/** The JSON body of every error the server answers with. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/**
 * Every error code the server may answer with, and its status: one table, so that a code
 * always means the same status. A code not listed is a 500 (and is logged).
 */
export const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  // The request itself is wrong.
  invalid_json: 400,
  invalid_request: 400,
  invalid_argument: 400,
  invalid_config: 400,
  invalid_session_document: 400,
  invalid_session_id: 400,
  unauthorized: 401,
  not_found: 404,
  session_not_found: 404,
  process_not_found: 404,
  payload_too_large: 413,
  unsupported_media_type: 415,
  // The request is fine, the session's state is not.
  session_exists: 409,
  session_unavailable: 409,
  session_busy: 409,
  tool_call_not_pending: 409,
  turn_cancelled: 409,
  // Too much at once.
  turn_queue_full: 429,
  too_many_streams: 429,
  rate_limited: 429,
  // The turn or the system failed, not the request.
  llm_provider_error: 502,
  max_sessions: 503,
  session_start_failed: 503,
  turn_interrupted: 503,
  store_closed: 503,
  server_closing: 503,
  turn_timed_out: 504,
};

/** The status and body an error answers with; `internal` when it is a fault of ours, to log. */
export function errorResponse(error: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (error instanceof SessionvisorError) {
    const status = error instanceof HttpError ? error.status : (STATUS_OF_CODE[error.code] ?? 500);
    const field = fieldOf(error);
    return {
      status,
      body: {
        error: { code: error.code, message: error.message, ...(field === undefined ? {} : { field }) },
      },
      internal: status >= 500 && !(error.code in STATUS_OF_CODE),
    };
  }
  return {
    status: 500,
    body: { error: { code: "internal_error", message: "the server failed to answer; see its log" } },
    internal: true,
  };
}

/** The input an error names, whichever property its class keeps it in. */
function fieldOf(error: SessionvisorError): string | undefined {
  if (error instanceof HttpError) return error.field;
  if (error instanceof InvalidArgumentError) return error.argument;
  const field = (error as { field?: unknown }).field;
  if (typeof field === "string") return field;
  if (error.code === "invalid_session_id") return "id";
  return undefined;
}
