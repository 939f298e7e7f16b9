import { HttpStore } from "../store/index.js";
import { Tracer } from "../tracer/index.js";
import { importAgent } from "./agent.js";
import { type WorkerOptions, parseWorkerOptions } from "./options.js";
import { Runner } from "./runner.js";

/**
 * A runner process's whole life: import the agent from its module, join the store over HTTP,
 * instrument the frameworks, and run rollouts until SIGTERM/SIGINT (which stop it gracefully).
 * Used by worker processes and by `tracetrain runner`.
 */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const { storeUrl, agentModule, agentName, token, graceMs, logger, onReady, ...runnerOptions } = parseWorkerOptions(options);
  const agent = await importAgent(agentModule, agentName);
  const store = new HttpStore(storeUrl, { logger, ...(token === undefined ? {} : { token }) });
  const tracer = new Tracer({ logger });
  // The same hooks as the trainer's default: the agent's LLM calls are recorded without changes.
  await tracer.instrument();
  const runner = new Runner({ store, agent, tracer, logger, ...runnerOptions });
  const stop = () => void runner.stop({ graceMs });
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  const running = runner.run();
  onReady?.({ workerId: runner.workerId, agent: agent.name });
  try {
    await running;
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    tracer.uninstrument();
    await store.close();
  }
}
