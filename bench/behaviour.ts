/**
 * Behaviour-filter benchmark: what `reviewRollouts` costs per rollout on a SQLite store, against
 * the floor any review pays — reading each rollout's spans back and adapting them (what RL's batch
 * and APO's pricing already do for every rollout). N rollouts of TURNS agent turns (bench/lib/spans),
 * in task groups of G; one trace detector flags every third rollout's first LLM call, one group
 * detector flags every group whose rewards are all alike. Measured twice: the first review writes
 * the finding spans, the second finds them recorded and writes none (what a review after live
 * hooks does).
 *
 *   npm run bench -- behaviour [--rollouts N] [--group G]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BehaviourFilter, type Detector, type Rollout } from "tracetrain";
import { TraceAdapter } from "tracetrain/adapters";
import { reviewRollouts } from "tracetrain/algorithms";
import { SqliteStore, spansOf } from "tracetrain/store";
import { nextTraceId, rewardFor, rolloutBatches } from "./lib/spans.js";
import { round } from "./lib/stats.js";

const everyThird: Detector = {
  name: "every-third",
  inspect: (attempt) => (Number(attempt.rolloutId.split(".").at(-1)) % 3 === 0 ? [{ rule: "third", severity: "low", message: "every third rollout", evidence: "", ...(attempt.calls[0] ? { spanId: attempt.calls[0].callId } : {}) }] : []),
};

const alike: Detector = {
  name: "alike",
  inspectGroup: (members) => (new Set(members.map((m) => m.reward)).size === 1 ? [{ rule: "same-reward", severity: "medium", message: `${members.length} rollouts scored alike`, evidence: "" }] : []),
};

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: { rollouts: { type: "string" }, group: { type: "string" } } });
  const count = Number(values.rollouts ?? 2000);
  const group = Number(values.group ?? 4);
  const dir = mkdtempSync(join(tmpdir(), "tracetrain-bench-behaviour-"));
  const store = new SqliteStore(join(dir, "store.db"), { watchdogIntervalMs: false });
  try {
    process.stderr.write(`storing ${count} rollouts…\n`);
    const rollouts = await seed(store, count, group);
    const adapter = new TraceAdapter();
    const behaviour = new BehaviourFilter({ detectors: [everyThird, alike], policy: { "every-third": "penalize" } });
    const ctx = { store, adapter, behaviour };

    const readAdapt = async () => {
      for (const r of rollouts) adapter.attempts(await spansOf(store, r.rolloutId, r.attempts[0]!.attemptId));
    };
    // Warm-up: the first pass pays for V8's compilation and SQLite's page cache; the reviews below find both warm.
    await readAdapt();
    const floorSeconds = await timed(readAdapt);
    let first = { written: 0, findings: 0 };
    const firstSeconds = await timed(async () => {
      const review = await reviewRollouts(ctx, rollouts);
      first = { written: review.written, findings: review.counts.findings };
    });
    let again = { written: 0, findings: 0 };
    const againSeconds = await timed(async () => {
      const review = await reviewRollouts(ctx, rollouts);
      again = { written: review.written, findings: review.counts.findings };
    });
    if (again.written !== 0 || again.findings !== first.findings) throw new Error(`the second review should find ${first.findings} findings recorded and write none: ${JSON.stringify(again)}`);

    const perRollout = (s: number) => round((s * 1000) / count, 3);
    process.stdout.write(
      `${JSON.stringify({
        bench: "behaviour",
        rollouts: count,
        group_size: group,
        findings: first.findings,
        finding_spans_written: first.written,
        review_ms_per_rollout: perRollout(firstSeconds),
        review_again_ms_per_rollout: perRollout(againSeconds),
        read_adapt_ms_per_rollout: perRollout(floorSeconds),
        ratio_vs_read_adapt: round(firstSeconds / floorSeconds, 2),
      })}\n`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `count` ended rollouts, `group` per task, with an agent's spans and a reward. */
async function seed(store: SqliteStore, count: number, group: number): Promise<Rollout[]> {
  const out: Rollout[] = [];
  for (let i = 0; i < count; i++) {
    const { rollout, attempt } = await store.startRollout({ rolloutId: `bench.${i}`, input: { task: Math.floor(i / group) }, mode: "train", metadata: { groupId: `g${Math.floor(i / group)}` } });
    const target = { rolloutId: rollout.rolloutId, attemptId: attempt.attemptId };
    // Whole groups alike every other group, so the group detector has something to find.
    const reward = Math.floor(i / group) % 2 === 0 ? 1 : rewardFor(i);
    await store.addSpans(rolloutBatches(target, nextTraceId(), reward).flat());
    out.push((await store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded", finalReward: reward })).rollout);
  }
  return out;
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}
