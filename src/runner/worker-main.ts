/**
 * The entry point of a trainer's worker process. Configured through the environment (set by
 * WorkerPool), so no secret shows in `ps`; reports readiness or failure to its parent over IPC.
 */
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
  if (!value) throw new Error(`the worker needs ${name} in its environment`);
  return value;
}

const optional = (name: keyof WorkerEnvironment) => process.env[name] || undefined;
const numberFrom = (name: keyof WorkerEnvironment) => (process.env[name] ? Number(process.env[name]) : undefined);

function main(): Promise<void> {
  const concurrency = numberFrom("TRACETRAIN_CONCURRENCY");
  const heartbeatIntervalMs = numberFrom("TRACETRAIN_HEARTBEAT_MS");
  const graceMs = numberFrom("TRACETRAIN_GRACE_MS");
  const agentName = optional("TRACETRAIN_AGENT_NAME");
  const token = optional("TRACETRAIN_TOKEN");
  const workerId = optional("TRACETRAIN_WORKER_ID");
  return runWorker({
    storeUrl: required("TRACETRAIN_STORE_URL"),
    agentModule: required("TRACETRAIN_AGENT_MODULE"),
    ...(agentName === undefined ? {} : { agentName }),
    ...(token === undefined ? {} : { token }),
    ...(workerId === undefined ? {} : { workerId }),
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs }),
    ...(graceMs === undefined ? {} : { graceMs }),
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
