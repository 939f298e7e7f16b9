/**
 * The entry point of a trainer's worker process. Configured through the environment (set by
 * WorkerPool), so no secret shows in `ps`; reports readiness or failure to its parent over IPC.
 */
import { ValidationError } from "../types/index.js";
import { runWorker } from "./worker.js";

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
  if (!value) throw new ValidationError("worker environment", [{ path: name, message: "required: the worker is started by a trainer, which sets it" }]);
  return value;
}

/** The variable's value under `key`, when it is set: an unset variable leaves the option to its default. */
function fromEnv<K extends string, V>(name: keyof WorkerEnvironment, key: K, convert: (text: string) => V): { [P in K]?: V } {
  const text = process.env[name];
  return (text ? { [key]: convert(text) } : {}) as { [P in K]?: V };
}

function main(): Promise<void> {
  return runWorker({
    storeUrl: required("TRACETRAIN_STORE_URL"),
    agentModule: required("TRACETRAIN_AGENT_MODULE"),
    ...fromEnv("TRACETRAIN_AGENT_NAME", "agentName", String),
    ...fromEnv("TRACETRAIN_TOKEN", "token", String),
    ...fromEnv("TRACETRAIN_WORKER_ID", "workerId", String),
    ...fromEnv("TRACETRAIN_CONCURRENCY", "concurrency", Number),
    ...fromEnv("TRACETRAIN_HEARTBEAT_MS", "heartbeatIntervalMs", Number),
    ...fromEnv("TRACETRAIN_GRACE_MS", "graceMs", Number),
    onReady: (info) => process.send?.({ type: "ready", ...info }),
  });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`[tracetrain worker] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.send?.({ type: "failed", message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  },
);
