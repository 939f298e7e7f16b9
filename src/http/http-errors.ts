import type { EntityKind, ErrorBody, ErrorCode, JsonValue, ValidationIssue } from "../types/index.js";
import { ConflictError, ErrorBodySchema, MissingDependencyError, NotFoundError, StoreUnavailableError, TracetrainError, ValidationError } from "../types/index.js";

/**
 * The HTTP status of each error code: a client mistake is a 4xx, never a 500. A package missing
 * on the server is 501: the server cannot do what was asked, and — unlike 503 — asking again will
 * not help until its operator installs the package, so clients must not retry it.
 */
export const STATUS_OF: Record<ErrorCode, number> = {
  validation: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  internal: 500,
  missing_dependency: 501,
  not_supported: 501,
  closed: 503,
  unavailable: 503,
  timeout: 504,
};

/** The JSON error body for any thrown value; unexpected errors become `internal` without leaking details. */
export function errorBody(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof TracetrainError) return { status: STATUS_OF[error.code], body: error.toJSON() };
  return { status: 500, body: { error: { code: "internal", message: "internal server error" } } };
}

/**
 * Rebuilds the typed error a server sent, so a caller of HttpStore catches exactly what it would
 * catch from an in-process store (`instanceof NotFoundError`, `.issues`, `.code`), message intact.
 */
export function errorFromBody(status: number, raw: unknown): TracetrainError {
  const parsed = ErrorBodySchema.safeParse(raw);
  if (!parsed.success) return new TracetrainError(status >= 500 ? "internal" : "validation", `the store server answered HTTP ${status} with no error body`);
  const { code, message, details } = parsed.data.error;
  const error = rebuild(code, message, details);
  error.message = message;
  return error;
}

function rebuild(code: ErrorCode, message: string, details: JsonValue | undefined): TracetrainError {
  const d = (typeof details === "object" && details !== null && !Array.isArray(details) ? details : {}) as Record<string, JsonValue>;
  switch (code) {
    case "not_found":
      return new NotFoundError(String(d.entity ?? "rollout") as EntityKind, String(d.id ?? ""), message);
    case "conflict":
      return new ConflictError(message, details);
    case "validation": {
      const issues = Array.isArray(d.issues) ? (d.issues as unknown as ValidationIssue[]) : [{ path: "", message }];
      return new ValidationError("request", issues);
    }
    case "missing_dependency":
      return new MissingDependencyError(String(d.package ?? ""), message);
    case "closed":
    case "unavailable":
      // The server's store closing means the server is going away: for this client, unavailable (retryable), not closed for good.
      return new StoreUnavailableError(message);
    default:
      return new TracetrainError(code, message, details);
  }
}
