/**
 * The training backend of the rl benchmark, run in its own process as a GPU trainer would run on
 * its own machine: the CPU reference backend (its OpenAI-compatible endpoint and its trainer)
 * behind `serveTrainingBackend`. The benchmark's process holds the agents, the gateway and the
 * store, so on a 2-core machine each side gets a core.
 *
 *   reference-backend-child.ts SEED [EPOCHS]
 *
 * Prints one JSON line `{"url": …}` once listening, and closes cleanly on SIGTERM.
 */
import { ReferenceBackend, serveTrainingBackend } from "../../src/algorithms/index.js";
import { ACTIONS } from "../../src/demo/index.js";

async function main(argv: string[]): Promise<void> {
  const seed = Number(argv[0] ?? 0);
  const epochs = Number(argv[1] ?? 1);
  const backend = await ReferenceBackend.start({ actions: [...ACTIONS], seed, epochs });
  const server = await serveTrainingBackend(backend, { port: 0 });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  await new Promise<void>((resolve) => process.once("SIGTERM", () => resolve()));
  await server.close();
  await backend.close();
}

await main(process.argv.slice(2));
