import type { Logger } from "../types/index.js";
import { consoleLogger } from "../types/index.js";
import { HttpStore } from "../store/index.js";
import { Tracer } from "../tracer/index.js";
import { importAgent } from "./agent.js";
import { Runner } from "./runner.js";

export interface WorkerOptions {
  /** The store server's URL. */
  storeUrl: string;
  /** Path or URL of the module that exports the agent. */
  agentModule: string;
  /** The agent's name, if the module exports several. */
  agentName?: string;
  token?: string;
  concurrency?: number;
  workerId?: string;
  heartbeatIntervalMs?: number;
  /** How long running agents get to stop on SIGTERM/SIGINT (default 5000 ms). */
  graceMs?: number;
  logger?: Logger;
  /** Called once the agent is loaded and the runner is pulling work. */
  onReady?: (info: { workerId: string; agent: string }) => void;
}

/**
 * A runner process's whole life: import the agent from its module, join the store over HTTP,
 * instrument the frameworks, and run rollouts until SIGTERM/SIGINT (which stop it gracefully).
 * Used by worker processes and by `tracetrain runner`.
 */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const agent = await importAgent(options.agentModule, options.agentName);
  const logger = options.logger ?? consoleLogger;
  const store = new HttpStore(options.storeUrl, { logger, ...(options.token ? { token: options.token } : {}) });
  const tracer = new Tracer({ logger });
  // The same hooks as the trainer's default: the agent's LLM calls are recorded without changes.
  await tracer.instrument();
  const runner = new Runner({
    store,
    agent,
    tracer,
    logger,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
    ...(options.workerId === undefined ? {} : { workerId: options.workerId }),
  });
  const stop = () => void runner.stop({ graceMs: options.graceMs ?? 5000 });
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  const running = runner.run();
  options.onReady?.({ workerId: runner.workerId, agent: agent.name });
  try {
    await running;
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    tracer.uninstrument();
    await store.close();
  }
}
