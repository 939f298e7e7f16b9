/**
 * RL benchmark: synchronous against asynchronous rollouts on the demo's task (keeper clues), same
 * seeds, same machine, one run each. The reference backend runs in a child process behind the
 * protocol (as a GPU trainer would, on its own machine); agents, gateway and a SQLite store run
 * here. Synchronous RL waits for every rollout of a step, then for the update; asynchronous RL
 * keeps the next step's rollouts running while the backend trains, with samples at most
 * `maxStaleness` versions old. Both evaluate only before the first and after the last step, so
 * evaluation costs both the same; `samples_per_s` counts trained samples per second of the
 * training loop (evaluation time left out), `rollouts_per_s` the training rollouts run (refills
 * included, whether or not their group had a signal). Two configurations run by default: the
 * reference backend's default update (one pass over the batch, a few ms) and PPO over 8 passes (a
 * few hundred ms, nearer a GPU trainer's share of a step). The reference for the async figure is the sync run
 * of the same invocation.
 *
 *   npm run bench -- rl [--steps N] [--seed N] [--epochs N]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { HttpTrainingBackend, RL } from "../src/algorithms/index.js";
import { makeTasks, treasureHunter } from "../src/demo/index.js";
import { SqliteStore } from "../src/store/index.js";
import { Trainer } from "../src/trainer/index.js";
import { startChild } from "./lib/child.js";
import { round } from "./lib/stats.js";

const CHILD = fileURLToPath(new URL("./lib/reference-backend-child.ts", import.meta.url));
const quiet = { debug() {}, info() {}, warn: (m: string) => process.stderr.write(`[warn] ${m}\n`), error: (m: string) => process.stderr.write(`[error] ${m}\n`) };

interface Figures {
  bench: "rl";
  mode: "sync" | "async";
  epochs: number;
  samples_per_s: number;
  steps: number;
  final_val_reward: number | null;
  seconds: number;
  samples: number;
  rollouts: number;
  rollouts_per_s: number;
  train_seconds: number;
  stale_dropped: number;
  mean_staleness: number;
  /** Seconds per step in each phase, summed over the run (in async mode phases of different steps overlap). */
  phase_seconds: { rollouts: number; adapt: number; train: number };
}

async function runOnce(mode: "sync" | "async", steps: number, seed: number, epochs: number, dir: string): Promise<Figures> {
  const child = await startChild<{ url: string }>(CHILD, [String(seed), String(epochs)]);
  const backend = new HttpTrainingBackend(child.info.url);
  const store = new SqliteStore(join(dir, `${mode}.db`));
  const trainer = new Trainer({
    store,
    runners: 32,
    progress: false,
    logger: quiet,
    handleSignals: false,
    algorithm: new RL({ backend, steps, mode, tasksPerStep: 8, groupSize: 8, evalEvery: steps, advantage: { scaleByStd: true }, seed }),
  });
  try {
    const started = performance.now();
    const { result } = await trainer.fit(treasureHunter, { train: makeTasks(96, seed + 1, "train-", "keeper"), val: makeTasks(48, seed + 2, "val-", "keeper") });
    const seconds = (performance.now() - started) / 1000;
    const samples = result.steps.reduce((sum, s) => sum + s.samples, 0);
    const trainSeconds = seconds - result.evaluationSeconds;
    const rollouts = result.steps.reduce((sum, s) => sum + s.rollouts, 0);
    return {
      bench: "rl",
      mode,
      epochs,
      samples_per_s: round(samples / trainSeconds, 1),
      steps: result.steps.length,
      final_val_reward: result.finalValReward === null ? null : round(result.finalValReward, 3),
      seconds: round(seconds, 2),
      samples,
      rollouts,
      rollouts_per_s: round(rollouts / trainSeconds, 1),
      train_seconds: round(trainSeconds, 2),
      stale_dropped: result.steps.reduce((sum, s) => sum + s.dropped.stale, 0),
      mean_staleness: round(result.steps.reduce((sum, s) => sum + s.staleness, 0) / Math.max(1, result.steps.length), 3),
      phase_seconds: {
        rollouts: round(result.steps.reduce((sum, s) => sum + s.seconds.rollouts, 0), 2),
        adapt: round(result.steps.reduce((sum, s) => sum + s.seconds.adapt, 0), 2),
        train: round(result.steps.reduce((sum, s) => sum + s.seconds.train, 0), 2),
      },
    };
  } finally {
    await trainer.close();
    await store.close();
    await backend.close();
    await child.stop();
  }
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: { steps: { type: "string" }, seed: { type: "string" }, epochs: { type: "string" } } });
  const steps = Number(values.steps ?? 30);
  const seed = Number(values.seed ?? 0);
  // The default update (one pass) and an update-heavy one (PPO over 8 passes): async can only hide
  // the time a step spends outside its rollouts, so the two show where it pays.
  const configurations = values.epochs === undefined ? [1, 8] : [Number(values.epochs)];
  const dir = mkdtempSync(join(tmpdir(), "tracetrain-bench-rl-"));
  try {
    for (const epochs of configurations) {
      const figures: Figures[] = [];
      for (const mode of ["sync", "async"] as const) {
        process.stderr.write(`rl: ${mode}, ${epochs} pass(es) per update, ${steps} steps…\n`);
        const result = await runOnce(mode, steps, seed, epochs, dir);
        figures.push(result);
        console.log(JSON.stringify(result));
      }
      const [sync, async] = figures as [Figures, Figures];
      console.log(
        JSON.stringify({
          bench: "rl",
          epochs,
          reference: "sync",
          speedup: round(async.samples_per_s / sync.samples_per_s, 2),
          rollouts_speedup: round(async.rollouts_per_s / sync.rollouts_per_s, 2),
          val_reward_gap: sync.final_val_reward === null || async.final_val_reward === null ? null : round(async.final_val_reward - sync.final_val_reward, 3),
        }),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
