/**
 * SFT benchmark: training rollouts needed to reach 0.9 validation reward on the demo's task
 * (keeper clues: the box is learned from rewards alone), SFT by rejection sampling against RL,
 * same seeds, same budget per step (`tasks` × `group` rollouts), both evaluated on the same
 * validation tasks after every step/round. The reference backend runs in-process; agents go
 * through the gateway to its endpoint; the store is SQLite. A run that never reaches 0.9 reports
 * null. Reported as measured, no target.
 *
 *   npm run bench -- sft [--steps N] [--seeds 0,1] [--tasks N] [--group N] [--min-reward R]
 *
 * Prints one line per seed and algorithm, then
 * `{"bench":"sft","rollouts_sft":…,"rollouts_rl":…,"final_sft":…,"final_rl":…,"seeds":[…],"steps":…}`
 * with medians over the seeds (null when fewer than half of them reached 0.9).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Algorithm, ReferenceBackend, RL, SFT } from "../src/algorithms/index.js";
import { ACTIONS, makeTasks, treasureHunter } from "../src/demo/index.js";
import { SqliteStore } from "../src/store/index.js";
import { Trainer } from "../src/trainer/index.js";
import { round } from "./lib/stats.js";

const quiet = { debug() {}, info() {}, warn() {}, error: (m: string) => process.stderr.write(`[error] ${m}\n`) };
const TARGET = 0.9;

interface Curve {
  /** Training rollouts run up to and including each step, and the validation reward after it. */
  points: Array<{ rollouts: number; val: number | undefined }>;
  final: number | null;
}

interface Settings {
  steps: number;
  tasks: number;
  group: number;
  minReward: number;
}

async function runOnce(algorithm: "sft" | "rl", seed: number, s: Settings, dir: string): Promise<Curve> {
  const backend = await ReferenceBackend.start({ actions: [...ACTIONS], seed });
  const store = new SqliteStore(join(dir, `${algorithm}-${seed}.db`));
  const data = { train: makeTasks(96, seed + 1, "train-", "keeper"), val: makeTasks(32, seed + 2, "val-", "keeper") };
  const common = { backend, evalEvery: 1, seed, runId: `${algorithm}-${seed}` };
  const trainer = <R>(algorithm: Algorithm<R>) => new Trainer({ store, runners: 32, progress: false, logger: quiet, handleSignals: false, algorithm });
  let rollouts = 0;
  try {
    if (algorithm === "sft") {
      const sft = trainer(new SFT({ rounds: s.steps, tasksPerRound: s.tasks, samplesPerTask: s.group, filter: { minReward: s.minReward }, ...common }));
      try {
        const { result } = await sft.fit(treasureHunter, data);
        return { points: result.rounds.map((r) => ({ rollouts: (rollouts += r.rollouts), val: r.stats.valReward })), final: result.finalValReward };
      } finally {
        await sft.close();
      }
    }
    // The demo's RL settings (src/demo/run-demo.ts): GRPO scaled by the group's spread.
    const rl = trainer(new RL({ steps: s.steps, tasksPerStep: s.tasks, groupSize: s.group, advantage: { scaleByStd: true }, ...common }));
    try {
      const { result } = await rl.fit(treasureHunter, data);
      return { points: result.steps.map((step) => ({ rollouts: (rollouts += step.rollouts), val: step.valReward })), final: result.finalValReward };
    } finally {
      await rl.close();
    }
  } finally {
    await store.close();
    await backend.close();
  }
}

/** Training rollouts run when validation first reached the target; null when it never did. */
function rolloutsToTarget(curve: Curve): number | null {
  return curve.points.find((p) => p.val !== undefined && p.val >= TARGET)?.rollouts ?? null;
}

/** The median of the values, null when fewer than half of them are numbers (most runs never got there). */
function medianOrNull(values: ReadonlyArray<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (known.length * 2 < values.length) return null;
  const padded = [...known, ...Array<number>(values.length - known.length).fill(Infinity)];
  const mid = padded.length / 2;
  const median = padded.length % 2 === 1 ? padded[Math.floor(mid)]! : (padded[mid - 1]! + padded[mid]!) / 2;
  return Number.isFinite(median) ? median : null;
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: { steps: { type: "string" }, seeds: { type: "string" }, tasks: { type: "string" }, group: { type: "string" }, "min-reward": { type: "string" } } });
  const settings: Settings = { steps: Number(values.steps ?? 12), tasks: Number(values.tasks ?? 8), group: Number(values.group ?? 8), minReward: Number(values["min-reward"] ?? 1) };
  const seeds = (values.seeds ?? "0,1").split(",").map(Number);
  const dir = mkdtempSync(join(tmpdir(), "tracetrain-bench-sft-"));
  const found: Record<"sft" | "rl", { rollouts: Array<number | null>; finals: Array<number | null> }> = { sft: { rollouts: [], finals: [] }, rl: { rollouts: [], finals: [] } };
  try {
    for (const seed of seeds) {
      for (const algorithm of ["sft", "rl"] as const) {
        process.stderr.write(`sft bench: ${algorithm}, seed ${seed}, ${settings.steps} steps of ${settings.tasks}×${settings.group} rollouts…\n`);
        const started = performance.now();
        const curve = await runOnce(algorithm, seed, settings, dir);
        const rollouts = rolloutsToTarget(curve);
        found[algorithm].rollouts.push(rollouts);
        found[algorithm].finals.push(curve.final);
        const val = curve.points.map((p) => (p.val === undefined ? null : round(p.val, 2)));
        console.log(JSON.stringify({ bench: "sft", algorithm, seed, rollouts_to_target: rollouts, final: curve.final === null ? null : round(curve.final, 3), val, seconds: round((performance.now() - started) / 1000, 1) }));
      }
    }
    const finalOf = (a: "sft" | "rl") => medianOrNull(found[a].finals);
    console.log(
      JSON.stringify({
        bench: "sft",
        rollouts_sft: medianOrNull(found.sft.rollouts),
        rollouts_rl: medianOrNull(found.rl.rollouts),
        final_sft: finalOf("sft") === null ? null : round(finalOf("sft")!, 3),
        final_rl: finalOf("rl") === null ? null : round(finalOf("rl")!, 3),
        target: TARGET,
        seeds,
        steps: settings.steps,
        rollouts_per_step: settings.tasks * settings.group,
        min_reward: settings.minReward,
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
