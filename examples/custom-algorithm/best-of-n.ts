/**
 * Best-of-N rejection sampling, written against tracetrain's public `Algorithm` interface: run every
 * train task N times, keep each task's best-scoring answer if it reaches a threshold, and publish
 * the kept conversations as an SFT dataset (OpenAI fine-tuning chat JSONL).
 */
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { finished } from "node:stream/promises";
import type { Algorithm, AlgorithmContext } from "tracetrain";
import { type ChatSample, contextFromRollout, filterForExport, groupIdOf, toChatRecord, writeJsonl } from "tracetrain/adapters";
import { runBatch, summarize } from "tracetrain/algorithms";
import { spansOf } from "tracetrain/store";

export interface BestOfNOptions {
  /** Rollouts per train task. */
  n: number;
  /** A task's best answer is kept only if its reward is at least this. */
  threshold: number;
  /** Where the SFT dataset (chat JSONL) is written. */
  out: string;
  /** The run's id in the store (default: a new one). */
  runId?: string;
}

export interface BestOfNResult {
  runId: string;
  tasks: number;
  rollouts: number;
  /** Tasks whose best answer reached the threshold: one JSONL record each. */
  kept: number;
  meanAll: number | null;
  meanKept: number | null;
  file: string | null;
  interrupted: boolean;
}

export function bestOfN(options: BestOfNOptions): Algorithm<BestOfNResult> {
  if (!Number.isInteger(options.n) || options.n < 1) throw new RangeError(`bestOfN: n must be a whole number ≥ 1, got ${options.n}`);
  return {
    name: "best-of-n",
    async run(ctx: AlgorithmContext): Promise<BestOfNResult> {
      const runId = options.runId ?? `best-of-n-${randomUUID()}`;
      const { n, threshold, out } = options;
      // Recorded in the store, the run shows on the dashboard's Runs page while it runs and after.
      await ctx.store.recordRun({ runId, algorithm: "best-of-n", config: { n, threshold, out, tasks: ctx.train.length } });
      try {
        return await sampleAndPublish(ctx, runId, options);
      } catch (error) {
        await ctx.store.recordRun({ runId, algorithm: "best-of-n", status: "failed", summary: { error: String(error) } });
        throw error;
      }
    },
  };
}

async function sampleAndPublish(ctx: AlgorithmContext, runId: string, { n, threshold, out }: BestOfNOptions): Promise<BestOfNResult> {
  ctx.progress.phase(`sampling ${n} answers for each of ${ctx.train.length} tasks`, ctx.train.length * n);
  const tasks = ctx.train.flatMap((task) => Array.from({ length: n }, () => task));
  const rollouts = await runBatch(ctx, tasks, { mode: "train", metadata: { runId } });
  const summary = { runId, tasks: ctx.train.length, rollouts: rollouts.length, meanAll: summarize(rollouts).meanReward };
  const stopped = { ...summary, kept: 0, meanKept: null, file: null, interrupted: true };

  // Each succeeded rollout's conversation, read from the store through the trainer's adapter; the
  // package's export filter then keeps the best rollout of each task (its group) above the threshold.
  const rewardOf = new Map(rollouts.map((r) => [r.rolloutId, r.finalReward ?? undefined]));
  const samples: ChatSample[] = [];
  for (const rollout of rollouts.filter((r) => r.status === "succeeded")) {
    if (ctx.signal.aborted) return stop(ctx, stopped);
    samples.push(...ctx.adapter.toChatSamples(await spansOf(ctx.store, rollout.rolloutId, "latest"), contextFromRollout(rollout)));
  }
  if (ctx.signal.aborted) return stop(ctx, stopped);
  const kept = filterForExport(samples, { minReward: threshold, topK: 1, rolloutReward: (id) => rewardOf.get(id) });

  await mkdir(dirname(out), { recursive: true });
  const file = createWriteStream(out);
  await writeJsonl(kept.map(toChatRecord), file);
  await finished(file.end());

  const keptReward = new Map(kept.map((s) => [s.groupId, rewardOf.get(s.rolloutId) ?? null]));
  const groups = [...new Set(rollouts.map(groupIdOf))];
  await ctx.store.addRunEntries(runId, groups.map((group) => ({ kind: "best-of-n.task", key: group, data: { group, kept: keptReward.has(group), reward: keptReward.get(group) ?? null } })));
  const rewards = kept.map((s) => rewardOf.get(s.rolloutId) ?? 0);
  const meanKept = rewards.length > 0 ? rewards.reduce((a, b) => a + b, 0) / rewards.length : null;
  ctx.progress.note(`kept ${kept.length} of ${ctx.train.length} tasks (mean reward ${meanKept?.toFixed(3) ?? "n/a"}), written to ${out}`);
  const result = { ...summary, kept: kept.length, meanKept, file: out, interrupted: false };
  await ctx.store.recordRun({ runId, algorithm: "best-of-n", status: "completed", summary: { ...result } });
  return result;
}

/** An interrupted run is `stopped` in the store: nothing is published. */
async function stop(ctx: AlgorithmContext, result: BestOfNResult): Promise<BestOfNResult> {
  await ctx.store.recordRun({ runId: result.runId, algorithm: "best-of-n", status: "stopped", summary: { ...result } });
  return result;
}
