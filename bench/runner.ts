/**
 * Runner benchmark: empty-agent rollouts per second through `Trainer.fit` (the `evaluate`
 * algorithm), in this process against a memory store and an on-disk SQLite store, and in worker
 * processes (2 workers over the loopback store server). Everything the trainer normally does runs:
 * enqueue, long-poll dequeue, the tracer (root span + reward span per rollout), heartbeats,
 * completion and event-driven waiting. Prints one JSON line per case.
 *
 *   npm run bench -- runner [--rollouts N] [--runners N]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { MemoryStore, SqliteStore } from "tracetrain/store";
import { type Store, Trainer, type TrainerOptions } from "tracetrain";
import { emptyAgent } from "./lib/empty-agent.js";
import { round } from "./lib/stats.js";

const PROCESSES = 2;

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: { rollouts: { type: "string" }, runners: { type: "string" } } });
  const rollouts = Number(values.rollouts ?? 20_000);
  const runners = Number(values.runners ?? 64);
  const dir = mkdtempSync(join(tmpdir(), "tracetrain-bench-runner-"));
  try {
    for (const store of ["memory", "sqlite"] as const) {
      const open = (): Store => (store === "memory" ? new MemoryStore() : new SqliteStore(join(dir, `${store}-${Math.random()}.db`)));
      await fitOnce(open(), 1000, runners); // warm-up on a throwaway store
      const seconds = await fitOnce(open(), rollouts, runners);
      process.stdout.write(
        `${JSON.stringify({ bench: "runner", mode: "in-process", store, runners, rollouts, rollouts_per_s: round(rollouts / seconds) })}\n`,
      );
    }
    // Worker processes: each runs `runners / PROCESSES` rollouts at once; rollouts and spans cross HTTP.
    const pool = { processes: PROCESSES, concurrency: Math.max(1, Math.floor(runners / PROCESSES)) };
    const processRollouts = Math.min(rollouts, 10_000);
    await fitOnce(new MemoryStore(), 1000, pool);
    const seconds = await fitOnce(new SqliteStore(join(dir, "processes.db")), processRollouts, pool);
    process.stdout.write(
      `${JSON.stringify({ bench: "runner", mode: "processes", store: "sqlite", processes: PROCESSES, runners, rollouts: processRollouts, rollouts_per_s: round(processRollouts / seconds) })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One `fit` over `count` tasks; returns its wall time in seconds after checking every rollout succeeded. */
async function fitOnce(store: Store, count: number, runners: NonNullable<TrainerOptions["runners"]>): Promise<number> {
  const quiet = { debug() {}, info() {}, warn() {}, error: (m: string) => process.stderr.write(`${m}\n`) };
  const trainer = new Trainer({ store, runners, progress: false, logger: quiet, handleSignals: false });
  const started = performance.now();
  await trainer.fit(emptyAgent, { train: Array.from({ length: count }, (_, i) => i) });
  const seconds = (performance.now() - started) / 1000;
  const stats = await store.stats();
  if (stats.rollouts.succeeded !== count) throw new Error(`only ${stats.rollouts.succeeded} of ${count} rollouts succeeded`);
  await store.close();
  return seconds;
}
