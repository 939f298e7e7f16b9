/**
 * The gateway of the gateway benchmark, in its own process, recording into an in-process
 * MemoryStore: `gateway-child.ts UPSTREAM_URL ATTEMPTS`. It claims ATTEMPTS train rollouts up front
 * (so calls are attributed, token capture on) and prints `{"url": …, "scopes": […]}` once
 * listening; on SIGTERM it checks every call was recorded, then exits.
 */
import { MemoryStore } from "tracetrain/store";
import { startGateway } from "tracetrain/gateway";

const quiet = { debug() {}, info() {}, warn() {}, error: (message: string) => process.stderr.write(`[gateway] ${message}\n`) };

async function main([upstream, count]: string[]): Promise<void> {
  if (upstream === undefined || count === undefined) throw new Error("usage: gateway-child.ts UPSTREAM_URL ATTEMPTS");
  const store = new MemoryStore({ watchdogIntervalMs: false, logger: quiet });
  await store.enqueueMany(Array.from({ length: Number(count) }, (_, i) => ({ input: i, mode: "train" as const })));
  const claimed = await store.dequeue({ workerId: "bench", limit: Number(count) });
  const gateway = await startGateway({
    store,
    upstreams: [{ url: `${upstream}/v1`, capabilities: { tokenIds: true, logprobs: true } }],
    port: 0,
    logger: quiet,
  });
  const scopes = claimed.map((c) => ({ rolloutId: c.rollout.rolloutId, attemptId: c.attempt.attemptId }));
  process.stdout.write(`${JSON.stringify({ url: gateway.url, scopes })}\n`);
  await new Promise<void>((resolve) => process.once("SIGTERM", resolve));
  await gateway.close();
  const stats = gateway.stats();
  const spans = (await store.stats()).spans;
  // A benchmark that loses calls measures nothing: every recorded call must be in the store.
  if (spans !== stats.recorded) throw new Error(`${stats.recorded} calls recorded but ${spans} spans stored`);
  process.stderr.write(`[gateway] ${stats.requests} requests, ${spans} call spans stored\n`);
  await store.close();
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
