/**
 * The server side of the store-http benchmark, run in its own process (so the server and the
 * benchmark's client never share an event loop):
 *
 *   store SPEC [SCHEMA]   startStoreServer over createStore(SPEC) ("sqlite:PATH" or "postgres://…")
 *   echo                  a bare node:http server that answers every POST with its body — the ceiling
 *
 * Prints one JSON line `{"url": …}` on stdout once listening, and closes cleanly on SIGTERM (so a
 * `--cpu-prof` profile gets written).
 */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createStore } from "../../src/store/create-store.js";
import { startStoreServer } from "../../src/server/index.js";
import { MAX_POLL_MS } from "../../src/store/http/protocol.js";

const quiet = { debug() {}, info() {}, warn() {}, error: (message: string, fields?: unknown) => process.stderr.write(`[server] ${message} ${String(fields)}\n`) };

async function main(argv: string[]): Promise<void> {
  const [mode, spec, schema] = argv;
  let close: () => Promise<void>;
  let url: string;
  if (mode === "store" && spec !== undefined) {
    const store = createStore(spec, { logger: quiet, ...(schema ? { schema } : {}) });
    const server = await startStoreServer({ store, port: 0, closeStore: true, logger: quiet });
    url = server.url;
    close = () => server.close();
  } else if (mode === "echo") {
    const server = createServer(echo);
    // The same connection settings as the store server, so only the handler differs.
    server.requestTimeout = MAX_POLL_MS + 30_000;
    server.headersTimeout = 30_000;
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
  } else {
    throw new Error(`usage: http-server-child.ts store SPEC [SCHEMA] | echo (got ${argv.join(" ")})`);
  }
  process.stdout.write(`${JSON.stringify({ url })}\n`);
  await new Promise<void>((resolve) => process.once("SIGTERM", resolve));
  await close();
}

/** Answers a POST with the bytes it sent, as JSON: the least work a JSON route can do. */
function echo(request: IncomingMessage, response: ServerResponse): void {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const body = Buffer.concat(chunks);
    response.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": body.length }).end(body);
  });
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
