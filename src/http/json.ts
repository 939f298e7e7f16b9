import type { ServerResponse } from "node:http";
import { ValidationError } from "../types/index.js";

/**
 * How deep a JSON request body may nest. Stores accept JSON values (task inputs, span attributes,
 * resources) nested up to 64 levels, and the request envelopes around them add fewer than ten, so
 * 128 refuses nothing a store would take; far deeper bodies are hostile, and re-serialising one
 * (`JSON.stringify` recurses) overflows the stack.
 */
export const MAX_JSON_DEPTH = 128;

/** Sends `body` as JSON with its length; returns the status, for metrics. */
export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number {
  const text = JSON.stringify(body);
  response.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) }).end(text);
  return status;
}

/**
 * Where JSON text first opens a bracket deeper than `maxDepth` (a character offset), or undefined
 * when it stays within it. Reads the text once without parsing it, so a hostile body costs no
 * more than its length; brackets inside strings do not count.
 */
export function tooDeepAt(text: string, maxDepth: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character, a quote included
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return undefined;
}

/** JSON text as a value, or undefined when it is not JSON or nests deeper than `maxDepth`: for text a server does not answer for (an upstream's). */
export function parseJsonWithin(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (tooDeepAt(text, maxDepth) !== undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * A request body as JSON (undefined when empty); anything else — text that is not JSON, or JSON
 * nested deeper than `maxDepth` — is a ValidationError naming `what`.
 */
export function parseJsonBody(body: Buffer, what = "request body", maxDepth = MAX_JSON_DEPTH): unknown {
  if (body.length === 0) return undefined;
  const text = body.toString("utf8");
  const deepAt = tooDeepAt(text, maxDepth);
  if (deepAt !== undefined) {
    throw new ValidationError(what, [{ path: "", message: `nests deeper than ${maxDepth} levels, the limit for JSON request bodies (the first level too deep opens at character ${deepAt})` }]);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ValidationError(what, [{ path: "", message: `not valid JSON (${(error as Error).message.slice(0, 200)})` }]);
  }
}
