/**
 * HTTP plumbing shared by tracetrain's servers (the store server and the LLM gateway): reading a
 * body under a limit, constant-time token checks, and answering requests Node's parser rejects.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";
import { type AddressInfo, BlockList, isIP } from "node:net";
import type { Duplex } from "node:stream";
import { TracetrainError, ValidationError } from "../types/index.js";

/** The client went away mid-request: there is no one to answer. */
export class ClientGone extends Error {}

/** The status logged for a request whose client hung up before it was answered (nginx's convention). */
export const CLIENT_CLOSED = 499;

/** The 413 for a body over `limit` bytes, naming that limit (a route's count limit has a 413 of its own that names it). */
export function tooLarge(limit: number): TracetrainError {
  return new TracetrainError("payload_too_large", `request body over the limit of ${limit} bytes (bodyLimitBytes); send smaller batches`, { limit: "bytes", max: limit });
}

/** Reads a request body, refusing (before reading, when the length is declared) more than `limit` bytes. */
export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size > limit) throw tooLarge(limit);
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof TracetrainError) throw error;
    // `for await` over a request whose client disconnected rejects with "aborted" (ECONNRESET).
    throw new ClientGone((error as Error).message);
  }
  return Buffer.concat(chunks);
}

/** The request's URL; a target Node accepts but the URL parser rejects (`//[`, a bad port) is the client's mistake. */
export function requestUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? "/", "http://server");
  } catch {
    throw new ValidationError("request", [{ path: "url", message: `not a valid request target: ${JSON.stringify(String(target).slice(0, 200))}` }]);
  }
}

/** Answers a request Node's HTTP parser rejected with a JSON error body, then closes the connection. */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || error.code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  const [status, reason] = error.code === "HPE_HEADER_OVERFLOW" ? [431, "Request Header Fields Too Large"] : [400, "Bad Request"];
  const body = JSON.stringify(new TracetrainError("validation", `malformed HTTP request (${error.code ?? error.message})`).toJSON());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** A token's digest; comparing digests (always of equal length) in constant time reveals nothing about the token. */
export function tokenDigest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/** Whether `presented` is the token whose digest is `expected`, in constant time. */
export function tokenMatches(presented: string | undefined, expected: Buffer): boolean {
  return presented !== undefined && timingSafeEqual(tokenDigest(presented), expected);
}

/** The token of an `Authorization: Bearer …` header; the scheme's name is case-insensitive (RFC 7235). */
export function bearerToken(request: IncomingMessage): string | undefined {
  const match = /^bearer +(.+)$/i.exec(request.headers.authorization ?? "");
  return match?.[1];
}

let loopbackAddresses: BlockList | undefined;

/**
 * Whether `host` names this machine only: `localhost`, or an address in 127.0.0.0/8, `::1`, or
 * an IPv4-mapped 127.x (`::ffff:127.0.0.1`). A name is not an address: `127.example.com` may
 * resolve anywhere.
 */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  if (bare.toLowerCase() === "localhost") return true;
  const family = isIP(bare);
  if (family === 0) return false;
  if (loopbackAddresses === undefined) {
    loopbackAddresses = new BlockList();
    loopbackAddresses.addSubnet("127.0.0.0", 8, "ipv4");
    loopbackAddresses.addAddress("::1", "ipv6");
  }
  // BlockList matches IPv4-mapped IPv6 addresses against the IPv4 subnet.
  return loopbackAddresses.check(bare, family === 6 ? "ipv6" : "ipv4");
}

/** Refuses to listen beyond this machine without a token, unless the operator said the network is trusted. */
export function checkExposure(what: string, host: string, token: string | undefined, insecure: boolean | undefined): void {
  if (token || insecure || isLoopback(host)) return;
  throw new ValidationError(`${what} options`, [
    { path: "host", message: `refusing to serve on ${host} without a token: set --token (or TRACETRAIN_TOKEN), or pass --insecure on a trusted network` },
  ]);
}

/** Starts listening; resolves with the server's `http://host:port` (rejects if the port is taken). */
export async function listenOn(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
}

/**
 * Stops taking connections and waits for the answers under way; keep-alive sockets, idle by
 * then, close cleanly. Sockets still open 2 s later are cut.
 */
export async function closeGracefully(server: Server, inFlight: ReadonlySet<Promise<unknown>>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await Promise.allSettled([...inFlight]);
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), 2000);
  await closed;
  clearTimeout(force);
}

/**
 * A request listener that runs `handle` and keeps the request in `inFlight` until its response is
 * fully written out (or the connection dropped), not merely handled — what a graceful close waits for.
 */
export function trackedListener(
  inFlight: Set<Promise<void>>,
  handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
  onUnexpected: (error: unknown) => void,
): RequestListener {
  return (request, response) => {
    const handled = handle(request, response).catch(onUnexpected);
    const done = Promise.all([handled, new Promise((resolve) => response.once("close", resolve))]).then(() => undefined);
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  };
}

/** Aborts when the client disconnects before the response is finished, or the server shuts down. */
export function disconnectSignal(response: ServerResponse, shutdown: AbortSignal): AbortSignal {
  const controller = new AbortController();
  const socket = response.socket;
  // A client can hang up before its request is even handled: then "close" has already happened.
  if (socket === null || socket.destroyed || socket.readableEnded) {
    controller.abort();
  } else {
    const gone = () => {
      if (!response.writableFinished) controller.abort();
    };
    response.once("close", gone);
    // The server keeps a half-closed socket open until it has answered, so a client's hang-up
    // shows first as the end of what it sends: an HTTP client waiting for an answer sends nothing more.
    socket.once("end", gone);
    response.once("finish", () => socket.off("end", gone));
  }
  return AbortSignal.any([controller.signal, shutdown]);
}
