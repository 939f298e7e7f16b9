#!/usr/bin/env node
/**
 * The `tracetrain` command.
 *
 *   tracetrain store serve [--store URL] [--host H] [--port P] [--token T] [--insecure]
 *   tracetrain runner --store URL --agent PATH [--name AGENT] [--concurrency N] [--token T]
 *
 * Tokens may also come from TRACETRAIN_TOKEN (better: they then stay out of `ps` and shell history).
 */
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { createStore } from "../create-store.js";
import { runWorker } from "../runner/worker.js";
import { startStoreServer } from "../server/store-server.js";
import { TracetrainError, ValidationError } from "../types/index.js";

const USAGE = `usage:
  tracetrain store serve [--store URL] [--host HOST] [--port PORT] [--token TOKEN] [--insecure]
      Serve a store over HTTP. --store: "sqlite:PATH" (default sqlite:./.tracetrain/tracetrain.db),
      "postgres://…" or "memory". --host defaults to 127.0.0.1; binding any other address needs a
      token (--token or TRACETRAIN_TOKEN) unless --insecure.
  tracetrain runner --store URL --agent PATH [--name AGENT] [--concurrency N] [--token TOKEN]
      Join a store server and run rollouts with the agent exported by PATH (a .js module, or a .ts
      module when tsx is installed). --name picks the agent if the module exports several.`;

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (command === "store" && sub === "serve") return serve(rest);
  if (command === "runner") return runner([sub ?? "", ...rest].filter((a) => a !== ""));
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 1 : 0;
  }
  throw new ValidationError("command line", [{ path: command, message: `unknown command\n${USAGE}` }]);
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      store: { type: "string", default: "sqlite:./.tracetrain/tracetrain.db" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "4747" },
      token: { type: "string" },
      insecure: { type: "boolean", default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ValidationError("command line", [{ path: "--port", message: `expected a port number, got ${values.port}` }]);
  }
  if (values.store.startsWith("http")) {
    throw new ValidationError("command line", [{ path: "--store", message: "serve a database (sqlite:…, postgres://…, memory), not another server" }]);
  }
  const token = values.token ?? process.env.TRACETRAIN_TOKEN;
  const store = createStore(values.store);
  const server = await startStoreServer({ store, host: values.host, port, insecure: values.insecure, closeStore: true, ...(token ? { token } : {}) });
  process.stdout.write(`tracetrain store serving ${redact(values.store)} at ${server.url}${token ? " (token required)" : ""}\n`);
  process.stdout.write("dashboard: not available in this version\n");
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  process.stdout.write("stopping: finishing requests in flight…\n");
  await server.close();
  return 0;
}

async function runner(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      store: { type: "string" },
      agent: { type: "string" },
      name: { type: "string" },
      concurrency: { type: "string", default: "8" },
      token: { type: "string" },
    },
  });
  if (!values.store || !values.agent) {
    throw new ValidationError("command line", [{ path: values.store ? "--agent" : "--store", message: `required\n${USAGE}` }]);
  }
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ValidationError("command line", [{ path: "--concurrency", message: `expected a whole number ≥ 1, got ${values.concurrency}` }]);
  }
  if (/\.[cm]?ts$/.test(values.agent) && !loadsTypeScript()) return rerunWithTsx();
  const token = values.token ?? process.env.TRACETRAIN_TOKEN;
  await runWorker({
    storeUrl: values.store,
    agentModule: values.agent,
    concurrency,
    ...(values.name ? { agentName: values.name } : {}),
    ...(token ? { token } : {}),
    onReady: ({ workerId, agent }) => process.stdout.write(`runner ${workerId} running agent '${agent}' against ${values.store}\n`),
  });
  return 0;
}

/** Whether this process can import TypeScript (it was started with a TypeScript loader). */
function loadsTypeScript(): boolean {
  return process.execArgv.some((arg) => arg.includes("tsx")) || process.env.TRACETRAIN_TSX === "1";
}

/** Runs this same command again under tsx, so a `.ts` agent module can be imported. */
function rerunWithTsx(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", ...process.execArgv, ...process.argv.slice(1)], {
      stdio: "inherit",
      env: { ...process.env, TRACETRAIN_TSX: "1" },
    });
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
    child.on("error", reject);
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:)[^@/?#]*@/i, "$1***@");
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof TracetrainError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`tracetrain: ${message}\n`);
    process.exit(error instanceof ValidationError ? 2 : 1);
  },
);
