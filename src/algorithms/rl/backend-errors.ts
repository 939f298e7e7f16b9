/**
 * Errors of a training backend reached over the protocol (see `http-backend.ts`). Each names the
 * route (`POST /v2/train`, or `/v1/...` when the backend speaks only version 1) and the HTTP status when there was one, so a log line alone says which
 * call failed and how. A server's 400 arrives as the shared `ValidationError` and its 409 as
 * `ConflictError`; everything else is one of these.
 *
 * Retrying: `HttpTrainingBackend` already retries the read-only GETs. For `train`, an
 * unavailable, timeout or aborted error means the update may or may not have been applied; resend
 * the same request (same `step`): the backend applies it once, and answers 409 (ConflictError) if
 * it already had — then read `info()` for the policy version it produced.
 */
import type { ErrorCode, ValidationIssue } from "../../types/index.js";
import { TracetrainError } from "../../types/index.js";

/** A failed exchange with a training backend. */
export class BackendError extends TracetrainError {
  /** `METHOD /path` over HTTP, e.g. `POST /v2/train`; the method name (`train`) in process. */
  readonly route: string;
  /** The HTTP status, or undefined when no answer arrived (refused, reset, timed out, aborted). */
  readonly status: number | undefined;

  constructor(code: ErrorCode, route: string, status: number | undefined, message: string, options?: { cause?: unknown }) {
    super(code, message, { route, status: status ?? null }, options);
    this.route = route;
    this.status = status;
  }
}

/**
 * The backend could not be reached, or answered 5xx. Retrying later may succeed; see the module
 * comment for what that means for `train`. `delivered` is false only when the request provably
 * never reached the server (connection refused, unknown host) — then resending is always safe.
 */
export class BackendUnavailableError extends BackendError {
  readonly delivered: boolean;

  constructor(route: string, status: number | undefined, message: string, options?: { cause?: unknown; delivered?: boolean }) {
    super("unavailable", route, status, message, options);
    this.delivered = options?.delivered ?? true;
  }
}

/** No complete answer within the route's timeout. For `train` the update may still be applied. */
export class BackendTimeoutError extends BackendError {
  readonly timeoutMs: number;

  constructor(route: string, timeoutMs: number, message: string) {
    super("timeout", route, undefined, message);
    this.timeoutMs = timeoutMs;
  }
}

/** The backend refused the bearer token (401), or one was required and none was given. */
export class BackendAuthError extends BackendError {
  constructor(route: string, status: number, message: string) {
    super("unauthorized", route, status, message);
  }
}

/**
 * The backend answered something that is not the protocol: not JSON, the wrong shape, another
 * protocol version. `issues` say which field and what was expected. Retrying will not help.
 * `status` is undefined when the backend answered in process (to the protocol's server).
 */
export class BackendResponseError extends BackendError {
  readonly issues: ValidationIssue[];

  constructor(route: string, status: number | undefined, issues: ValidationIssue[], prefix = "malformed response") {
    super("internal", route, status, `${route}${status === undefined ? "" : ` → HTTP ${status}`}: ${prefix}: ${describeIssues(issues)}`);
    this.issues = issues;
  }
}

/**
 * The backend cannot do what was asked: it speaks `tracetrain-rl/1` (no hyperparameters, chunks,
 * restore or supervised steps), or its `info().capabilities` lack it (`restore`, `chunked_train`,
 * `supervised`, `supervised_chat`). Over HTTP a server
 * answers it with 501 and code `not_supported`. Asking again will not help; `feature` says what is missing.
 */
export class BackendUnsupportedError extends BackendError {
  readonly feature: UnsupportedFeature;

  constructor(route: string, feature: UnsupportedFeature, message: string, status?: number) {
    super("not_supported", route, status, message);
    this.feature = feature;
  }
}

/** What a backend may lack: a capability of `tracetrain-rl/2`, or (`protocol`) the version itself. */
export type UnsupportedFeature = "hyperparameters" | "chunked_train" | "restore" | "supervised" | "supervised_chat" | "protocol";

/** The caller aborted the call (its AbortSignal) or closed the client while it was in flight. */
export class BackendAbortedError extends BackendError {
  constructor(route: string, message: string) {
    super("closed", route, undefined, message);
  }
}

/** `path: message (and 2 more issues)`; the body itself is named "body". */
export function describeIssues(issues: readonly ValidationIssue[]): string {
  const first = issues[0];
  if (!first) return "invalid value";
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more issue${issues.length > 2 ? "s" : ""})` : "";
  return `${first.path || "body"}: ${first.message}${more}`;
}
