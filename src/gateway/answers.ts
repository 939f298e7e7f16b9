/**
 * What the gateway answers on its own — an error of its own or of the agent's request — in the
 * format of the API the agent called, so its SDK shows the message: Anthropic's
 * `{type: "error", error: {type, message}}` on `/v1/messages`, OpenAI's `{error: {message, type, code}}`
 * everywhere else.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ClientGone, STATUS_OF, requestUrl, sendJson } from "../http/index.js";
import { type Logger, TracetrainError } from "../types/index.js";
import { GatewayPausedError } from "./gate.js";
import { withoutScope } from "./scope.js";

/** Answers an error; a response already under way (its status is sent) can only be cut off. */
export function sendError(response: ServerResponse, path: string, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body = path.startsWith("/v1/messages") ? { type: "error", error: { type: code, message } } : { error: { message, type: code, param: null, code } };
  sendJson(response, status, body, headers);
}

/** Answers a request whose handling failed: typed errors with their status, anything else as 500 (and logged). */
export function answerFailure(request: IncomingMessage, response: ServerResponse, error: unknown, logger: Logger): void {
  if (error instanceof ClientGone || response.destroyed) return;
  const path = withoutScope(requestUrl(request.url).pathname);
  if (error instanceof GatewayPausedError) {
    sendError(response, path, 429, "paused", error.message, { "retry-after": String(error.retryAfterSeconds) });
    return;
  }
  if (error instanceof TracetrainError) {
    sendError(response, path, STATUS_OF[error.code], error.code, error.message);
    if (error.code === "payload_too_large") request.resume();
    return;
  }
  logger.error("the gateway failed to answer a request", { error, url: request.url });
  sendError(response, path, 500, "internal", "internal gateway error");
}
