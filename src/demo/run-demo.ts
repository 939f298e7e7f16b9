/**
 * The project's demo: reinforcement learning of a small policy, end to end on this machine — the
 * CPU reference backend serves and trains the policy, the gateway records every call with its
 * exact tokens, an unmodified openai-SDK agent does a two-call tool task, and the embedded SQLite
 * store holds it all. No network, no API key.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ReferenceBackend } from "../algorithms/index.js";
import { RL, type RLResult } from "../algorithms/index.js";
import { Trainer } from "../trainer/index.js";
import type { ProgressMode } from "../trainer/index.js";
import { rewardChartSvg } from "./reward-chart.js";
import { ACTIONS, KEEPERS, makeTasks, treasureHunter } from "./treasure-boxes.js";

export interface DemoOptions {
  /** Where the store, chart and result go (default `.tracetrain/demo`). Its old contents are replaced. */
  dir?: string;
  steps?: number;
  seed?: number;
  tasksPerStep?: number;
  groupSize?: number;
  /** Rollouts at once (default 32). */
  runners?: number;
  /** Keep rollouts running while the backend trains (RL's asynchronous mode, at most one version stale). Default false. */
  async?: boolean;
  progress?: ProgressMode;
  /** Where the reward table goes (default stdout). */
  write?: (text: string) => void;
}

export interface DemoResult {
  /** The last validation reward measured (after the last step, unless the run was interrupted). */
  final_val_reward: number | null;
  initial_val_reward: number | null;
  steps: number;
  seconds: number;
  policy_version: RLResult["policyVersion"];
  interrupted: boolean;
  /** "sync" or "async". */
  mode: "sync" | "async";
  chart: string;
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const dir = resolve(options.dir ?? join(".tracetrain", "demo"));
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  const seed = options.seed ?? 0;
  for (const file of ["demo.db", "demo.db-wal", "demo.db-shm"]) rmSync(join(dir, file), { force: true });
  mkdirSync(dir, { recursive: true });

  const started = performance.now();
  const backend = await ReferenceBackend.start({ actions: [...ACTIONS], seed });
  const trainer = new Trainer({
    store: `sqlite:${join(dir, "demo.db")}`,
    runners: options.runners ?? 32,
    progress: options.progress ?? "auto",
    algorithm: new RL({
      backend,
      steps: options.steps ?? 30,
      mode: options.async ? "async" : "sync",
      tasksPerStep: options.tasksPerStep ?? 8,
      groupSize: options.groupSize ?? 8,
      evalEvery: 5,
      // GRPO's scaling by the group's spread: with rewards in halves, it about triples the learning speed here.
      advantage: { scaleByStd: true },
      seed,
    }),
  });
  try {
    const keepers = Object.keys(KEEPERS).length;
    write(`Training a policy on the treasure-boxes task: find whose box holds the treasure (${keepers} keepers, each with a box no message names), open it, name the gem${options.async ? "; asynchronous rollouts" : ""}…\n`);
    // Keeper clues: which box a keeper uses is never written anywhere, so it is learned from rewards alone.
    const { result } = await trainer.fit(treasureHunter, { train: makeTasks(96, seed + 1, "train-", "keeper"), val: makeTasks(48, seed + 2, "val-", "keeper") });
    const seconds = Math.round(performance.now() - started) / 1000;
    write(table(result));
    const chart = join(dir, "reward-curve.svg");
    const points = [{ step: 0, train: null, val: result.initialValReward }, ...result.steps.map((s) => ({ step: s.step, train: s.trainReward, val: s.valReward ?? null, noSignal: s.zeroAdvantageShare, merged: s.mergeRatio }))];
    writeFileSync(chart, rewardChartSvg(points, { title: headline(result), ...(result.initialValReward === null ? {} : { baseline: { value: result.initialValReward, label: "before training" } }) }));
    const summary: DemoResult = {
      final_val_reward: result.finalValReward,
      initial_val_reward: result.initialValReward,
      steps: result.steps.length,
      seconds,
      policy_version: result.policyVersion,
      interrupted: result.stoppedBecause === "interrupted",
      mode: options.async ? "async" : "sync",
      chart,
    };
    writeFileSync(join(dir, "result.json"), `${JSON.stringify(summary, null, 2)}\n`);
    const stopped = result.stoppedBecause === "interrupted" ? " (interrupted)" : "";
    write(`\nvalidation reward ${fmt(result.initialValReward)} → ${fmt(result.finalValReward)} in ${result.steps.length} steps${stopped}, ${seconds.toFixed(1)} s\nchart: ${chart}\nresult: ${join(dir, "result.json")}\ndashboard: npx tracetrain dashboard --store ${join(dir, "demo.db")}\n`);
    return summary;
  } finally {
    await trainer.close();
    await backend.close();
  }
}

/** The chart's title: the result in one line. */
function headline(result: RLResult): string {
  const stopped = result.stoppedBecause === "interrupted" ? " (interrupted)" : "";
  const steps = `in ${result.steps.length} step${result.steps.length === 1 ? "" : "s"}${stopped}`;
  if (result.initialValReward !== null && result.finalValReward !== null) {
    return `Validation reward ${result.initialValReward.toFixed(2)} → ${result.finalValReward.toFixed(2)} ${steps}`;
  }
  const train = result.steps.map((s) => s.trainReward).filter((r): r is number => r !== null);
  return train.length === 0 ? `No reward measured ${steps}` : `Training reward ${train[0]!.toFixed(2)} → ${train[train.length - 1]!.toFixed(2)} ${steps}`;
}

function table(result: RLResult): string {
  const header = "step  train  val    samples  merged  no-signal  policy  seconds";
  const rows = result.steps.map((s) =>
    [
      String(s.step).padStart(4),
      fmt(s.trainReward).padStart(6),
      (s.valReward === undefined ? "" : fmt(s.valReward)).padStart(6),
      String(s.samples).padStart(8),
      (s.mergeRatio === null ? "n/a" : `${Math.round(s.mergeRatio * 100)}%`).padStart(7),
      `${Math.round(s.zeroAdvantageShare * 100)}%`.padStart(10),
      String(s.newPolicyVersion).padStart(7),
      (s.seconds.rollouts + s.seconds.adapt + s.seconds.train + s.seconds.eval).toFixed(2).padStart(8),
    ].join(" "),
  );
  return `\n${header}\n${rows.join("\n")}\n`;
}

function fmt(x: number | null | undefined): string {
  return x === null || x === undefined ? "n/a" : x.toFixed(3);
}
