/**
 * A raw HTTP/1.1 client over a TCP socket, for tests that must send what no well-behaved client
 * would: malformed request lines, lying Content-Length headers, half a body and a hang-up, bytes
 * trickled one piece at a time. `node:http` refuses to send most of that, so requests are bytes
 * and responses are parsed here (status, headers, Content-Length or chunked bodies).
 */
import { connect } from "node:net";

export interface RawResponse {
  status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Map<string, string>;
  body: Buffer;
  /** A server-sent event stream: complete once its headers arrived (the body never ends). */
  streaming: boolean;
}

export interface RawExchange {
  /** Written in order, `gapMs` apart (a slow client), or all at once. */
  pieces: Buffer[];
  gapMs?: number;
  /** Close the socket right after the last piece, without waiting for an answer (a client that hangs up). */
  hangUp?: boolean;
  /** How many answers to wait for (pipelined requests); default 1. */
  responses?: number;
  /** Which of the requests are HEAD (their answers have no body whatever Content-Length says). */
  head?: boolean[];
  /** Give up waiting after this long and report `abandoned` (a long-poll the test does not want to wait out). */
  abandonAfterMs?: number;
  /** Give up after this long and report `timedOut` (a server that never answers); default 5000 ms. */
  timeoutMs?: number;
}

export interface RawOutcome {
  responses: RawResponse[];
  /** The server closed the connection before all expected answers arrived. */
  closedEarly: boolean;
  abandoned: boolean;
  timedOut: boolean;
}

/** One exchange on a fresh connection to 127.0.0.1:`port`. Never rejects: what happened is in the outcome. */
export function rawExchange(port: number, exchange: RawExchange): Promise<RawOutcome> {
  const expected = exchange.responses ?? 1;
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    let buffer = Buffer.alloc(0);
    const responses: RawResponse[] = [];
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (how: Partial<Pick<RawOutcome, "abandoned" | "timedOut">> = {}) => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      socket.destroy();
      resolve({ responses, closedEarly: responses.length < expected && !how.abandoned && !how.timedOut, abandoned: how.abandoned ?? false, timedOut: how.timedOut ?? false });
    };
    const parse = (atEnd: boolean) => {
      for (;;) {
        const parsed = parseResponse(buffer, exchange.head?.[responses.length] ?? false, atEnd);
        if (!parsed) return;
        buffer = buffer.subarray(parsed.consumed);
        if (parsed.response.status === 100) continue; // an interim answer to Expect: 100-continue
        responses.push(parsed.response);
        if (parsed.response.streaming || responses.length >= expected) return finish();
      }
    };
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      parse(false);
    });
    socket.on("end", () => parse(true));
    socket.on("close", () => {
      parse(true);
      finish();
    });
    // EPIPE/ECONNRESET while still writing: the server answered early and closed (e.g. 413); keep what arrived.
    socket.on("error", () => undefined);
    if (exchange.abandonAfterMs !== undefined) timers.push(setTimeout(() => finish({ abandoned: true }), exchange.abandonAfterMs));
    timers.push(setTimeout(() => finish({ timedOut: true }), exchange.timeoutMs ?? 5000));
    socket.once("connect", () => void write());

    async function write(): Promise<void> {
      for (const [i, piece] of exchange.pieces.entries()) {
        if (settled || socket.destroyed) return;
        if (i > 0 && exchange.gapMs) await new Promise((r) => setTimeout(r, exchange.gapMs));
        if (settled || socket.destroyed) return;
        socket.write(piece);
      }
      if (exchange.hangUp) {
        // Let the bytes leave before the reset, so the server sees a partial request rather than nothing.
        await new Promise((r) => setTimeout(r, 5));
        finish();
      }
    }
  });
}

/** Parses one response at the start of `buffer`; undefined until it is complete. */
function parseResponse(buffer: Buffer, head: boolean, atEnd: boolean): { response: RawResponse; consumed: number } | undefined {
  const end = buffer.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const lines = buffer.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? Number.NaN);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  const start = end + 4;
  const done = (body: Buffer, consumed: number) => ({ response: { status, headers, body, streaming: false }, consumed });
  if (head || status === 100 || status === 204 || status === 304) return done(Buffer.alloc(0), start);
  if ((headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    return { response: { status, headers, body: Buffer.alloc(0), streaming: true }, consumed: buffer.length };
  }
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
    const chunks: Buffer[] = [];
    let at = start;
    for (;;) {
      const lineEnd = buffer.indexOf("\r\n", at);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(buffer.subarray(at, lineEnd).toString("latin1"), 16);
      if (!Number.isFinite(size)) return done(Buffer.concat(chunks), buffer.length);
      if (size === 0) {
        const trailerEnd = buffer.indexOf("\r\n\r\n", lineEnd);
        if (trailerEnd < 0 && !atEnd) return undefined;
        return done(Buffer.concat(chunks), trailerEnd < 0 ? buffer.length : trailerEnd + 4);
      }
      if (buffer.length < lineEnd + 2 + size + 2) return undefined;
      chunks.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const length = headers.get("content-length");
  if (length !== undefined) {
    const n = Number(length);
    if (buffer.length < start + n) return undefined;
    return done(buffer.subarray(start, start + n), start + n);
  }
  // No length: the body runs until the server closes the connection.
  return atEnd ? done(buffer.subarray(start), buffer.length) : undefined;
}

/** The bytes of one request: request line, headers exactly as given (order, case, repeats), body. */
export function requestBytes(method: string, target: string, headers: ReadonlyArray<readonly [string, string]>, body?: Buffer | string, version = "HTTP/1.1"): Buffer {
  const head = `${method} ${target} ${version}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join("")}\r\n`;
  return body === undefined ? Buffer.from(head, "latin1") : Buffer.concat([Buffer.from(head, "latin1"), typeof body === "string" ? Buffer.from(body, "utf8") : body]);
}

/** The usual headers of a one-shot JSON request (`Connection: close`, length when there is a body). */
export function standardHeaders(body?: Buffer | string): Array<[string, string]> {
  const headers: Array<[string, string]> = [
    ["Host", "127.0.0.1"],
    ["Connection", "close"],
  ];
  if (body !== undefined) headers.push(["Content-Type", "application/json"], ["Content-Length", String(Buffer.byteLength(body))]);
  return headers;
}
