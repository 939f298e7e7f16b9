/**
 * Why a forwarded call failed, as the error its span records: the span's `error.type` is the
 * error's `name` (unless an HTTP status says more), so a failed call reads as what went wrong.
 * These describe the call, not the gateway's API: nothing here is thrown to a caller of
 * `startGateway` or of a `Gateway` method (those get `TracetrainError`s).
 */

/** The upstream did not answer properly: unreachable, silent too long, broke off, sent an HTTP error or an answer that is not JSON. */
export class UpstreamError extends Error {
  override readonly name = "UpstreamError";
}

/** The agent hung up before its answer was complete. */
export class AgentDisconnected extends Error {
  override readonly name = "AgentDisconnected";
}
