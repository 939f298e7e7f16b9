/**
 * The entry point of a worker process: joins a store over HTTP and runs an agent imported from its
 * module until told to stop (SIGTERM/SIGINT). Started by the Trainer's process mode and by
 * `tracetrain runner`; configured through the environment so nothing secret shows in `ps`.
 */
import { pathToFileURL } from "node:url";
import { HttpStore } from "../server/http-store.js";
import { Tracer } from "../tracer/tracer.js";
import { findAgent } from "./agent.js";
import { Runner } from "./runner.js";

export interface WorkerEnvironment {
  TRACETRAIN_STORE_URL: string;
  TRACETRAIN_AGENT_MODULE: string;
  TRACETRAIN_AGENT_NAME?: string;
  TRACETRAIN_TOKEN?: string;
  TRACETRAIN_CONCURRENCY?: string;
  TRACETRAIN_WORKER_ID?: string;
  TRACETRAIN_HEARTBEAT_MS?: string;
  TRACETRAIN_GRACE_MS?: string;
}

function required(name: keyof WorkerEnvironment): string {
  const value = process.env[name];
  if (!value) throw new Error(`the worker needs ${name} in its environment`);
  return value;
}

const numberFrom = (name: keyof WorkerEnvironment): number | undefined => (process.env[name] ? Number(process.env[name]) : undefined);

async function main(): Promise<void> {
  const storeUrl = required("TRACETRAIN_STORE_URL");
  const modulePath = required("TRACETRAIN_AGENT_MODULE");
  const moduleUrl = /^[a-z]+:/i.test(modulePath) ? modulePath : pathToFileURL(modulePath).href;
  const agent = findAgent((await import(moduleUrl)) as Record<string, unknown>, process.env.TRACETRAIN_AGENT_NAME, modulePath);
  const store = new HttpStore(storeUrl, process.env.TRACETRAIN_TOKEN ? { token: process.env.TRACETRAIN_TOKEN } : {});
  const concurrency = numberFrom("TRACETRAIN_CONCURRENCY");
  const heartbeatIntervalMs = numberFrom("TRACETRAIN_HEARTBEAT_MS");
  const tracer = new Tracer();
  // The same hooks as the trainer's default: the agent's LLM calls are recorded without changes.
  await tracer.instrument();
  const runner = new Runner({
    store,
    agent,
    tracer,
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs }),
    ...(process.env.TRACETRAIN_WORKER_ID ? { workerId: process.env.TRACETRAIN_WORKER_ID } : {}),
  });
  const stop = () => void runner.stop({ graceMs: numberFrom("TRACETRAIN_GRACE_MS") ?? 5000 });
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  const running = runner.run();
  process.send?.({ type: "ready", workerId: runner.workerId, agent: agent.name });
  await running;
  await store.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`[tracetrain worker] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.send?.({ type: "failed", message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  },
);
