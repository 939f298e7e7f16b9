import type { ServerResponse } from "node:http";
import { ValidationError } from "../types/index.js";

/** Sends `body` as JSON with its length; returns the status, for metrics. */
export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number {
  const text = JSON.stringify(body);
  response.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) }).end(text);
  return status;
}

/** A request body as JSON (undefined when empty); anything else is a ValidationError naming `what`. */
export function parseJsonBody(body: Buffer, what = "request body"): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString("utf8")) as unknown;
  } catch (error) {
    throw new ValidationError(what, [{ path: "", message: `not valid JSON (${(error as Error).message.slice(0, 200)})` }]);
  }
}
