/**
 * APO benchmark: rollouts spent by bandit evaluation (successive halving) against Agent
 * Lightning's full-batch evaluation — every candidate on a fresh batch of v validation tasks each
 * round — with its defaults B=4, K=4, g=4, v=16, on the simulated room-selection task (the
 * example agent over the mock LLM: a prompt-sensitive agent model and a deterministic optimizer
 * model). Both strategies run with the same seeds; each run ends with the same final check (the
 * best and the seed on the third of the validation tasks held out from the search), whose score
 * is reported; its rollouts are not counted in the ratio. The reference is the full
 * strategy, measured in the same run; both share how critiques are made (one training minibatch
 * per beam member), so the ratio isolates the evaluation strategy. `rollouts_al_procedure` adds
 * what Agent Lightning's own procedure would spend for the same rounds — a minibatch per child
 * (B·K·g), every candidate on v tasks, and the leader on the whole validation set each round —
 * computed from its published formula, not measured.
 *
 *   npm run bench -- apo [--seeds N] [--rounds R]
 */
import { parseArgs } from "node:util";
import { runApo, val } from "../test/support/room-apo.js";
import { round } from "./lib/stats.js";

const DEFAULTS = { beamWidth: 4, branchFactor: 4, gradientBatchSize: 4 };
const V = 16;

/** Agent Lightning's rollouts per round: B·K·g (train) + (|beam| + B·K)·v (val) + |val| (leader), with one seed in round 1's beam. */
function alProcedure(rounds: number): number {
  const { beamWidth: B, branchFactor: K, gradientBatchSize: g } = DEFAULTS;
  let total = 0;
  for (let r = 1; r <= rounds; r++) total += B * K * g + ((r === 1 ? 1 : B) + B * K) * V + val.length;
  return total;
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: { seeds: { type: "string" }, rounds: { type: "string" } } });
  const seeds = Number(values.seeds ?? 3);
  const rounds = Number(values.rounds ?? 3);
  const totals = { bandit: 0, full: 0, scoreBandit: 0, scoreFull: 0 };
  for (let seed = 1; seed <= seeds; seed++) {
    const figures: Record<string, { rollouts: number; score: number; finalCheck: number }> = {};
    for (const strategy of ["successive-halving", "full"] as const) {
      process.stderr.write(`seed ${seed}: ${strategy}…\n`);
      const { result } = await runApo({ ...DEFAULTS, rounds, seed, evaluation: { strategy, maxTasks: V } });
      const finalCheck = (result.seed.n ?? 0) + (result.best.candidateId === "seed" ? 0 : result.best.n);
      figures[strategy] = { rollouts: result.spend.rollouts - finalCheck, score: result.best.score, finalCheck };
    }
    const bandit = figures["successive-halving"]!;
    const full = figures.full!;
    totals.bandit += bandit.rollouts;
    totals.full += full.rollouts;
    totals.scoreBandit += bandit.score;
    totals.scoreFull += full.score;
    console.log(JSON.stringify({ bench: "apo", seed, rounds, rollouts_bandit: bandit.rollouts, rollouts_full: full.rollouts, ratio: round(bandit.rollouts / full.rollouts, 3), score_bandit: round(bandit.score, 3), score_full: round(full.score, 3) }));
  }
  console.log(
    JSON.stringify({
      bench: "apo",
      seeds,
      rounds,
      rollouts_bandit: totals.bandit,
      rollouts_full: totals.full,
      ratio: round(totals.bandit / totals.full, 3),
      rollouts_al_procedure: alProcedure(rounds) * seeds,
      score_bandit: round(totals.scoreBandit / seeds, 3),
      score_full: round(totals.scoreFull / seeds, 3),
    }),
  );
}
