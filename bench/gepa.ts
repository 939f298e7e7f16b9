/**
 * GEPA benchmark: rollouts spent and held-out quality of GEPA against APO (successive halving, its
 * default) and APO with full evaluation, on the refund-desk task (examples/refund-desk: a policy
 * prompt and a tool description whose rules interact) with a noisy simulated agent model and the
 * simulated reflection model, which proposes only what the runs it reads show.
 *
 * Each optimizer searches on the 30 training and 60 validation tasks; what it published
 * (`result.published`, the seed's texts when it found nothing) is then scored here, on the 60 test
 * tasks no optimizer saw, by a plain `Trainer.evaluate` run against a fresh simulated endpoint —
 * so the same texts always get the same noise draws. The seed's texts are scored the same way.
 * Rollouts spent are each algorithm's own `spend.rollouts` (its final checks included).
 *
 * GEPA runs with its defaults and, as `maxRollouts`, half of what APO (successive halving, with
 * its defaults) spent on the same seed — the target is APO's held-out score with at most
 * 50% of its rollouts, so each seed asks exactly that. `--gepa-rollouts N` fixes the budget
 * instead, and `--gepa-pareto-tasks N` sets GEPA's `paretoTasks` (each accepted child runs on
 * that many tasks).
 *
 *   npm run bench -- gepa [--seeds N] [--noise X] [--gepa-rollouts N] [--gepa-pareto-tasks N]
 */
import { parseArgs } from "node:util";
import { type Algorithm, APO, type APOOptions, GEPA, type Store } from "tracetrain";
import { SEED_PROMPTS } from "../examples/refund-desk/agent.js";
import { runRefundAlgorithm, scoreRefundPrompts, SPLITS } from "../test/support/refund-rig.js";
import { round } from "./lib/stats.js";

/** The two texts that carry the shop's rules; both optimizers evolve exactly these. */
const COMPONENTS = ["system", "lookup_tool"];

interface Measured {
  rollouts: number;
  heldout: number;
}

/** Runs one optimizer, then scores what it published on the test split. */
async function measure(make: (client: APOOptions["client"]) => Algorithm<{ spend: { rollouts: number }; published: { resourcesId: string } | null }>, noise: number): Promise<Measured> {
  const { result, store } = await runRefundAlgorithm(make, { noise });
  if (!result.published) throw new Error("the run published nothing: it cannot be scored on the test split");
  return { rollouts: result.spend.rollouts, heldout: await scoreRefundPrompts(await resourcesOf(store, result.published.resourcesId), SPLITS.test, { noise }) };
}

async function resourcesOf(store: Store, resourcesId: string) {
  return (await store.getResources(resourcesId)).resources;
}

function positive(name: string, value: string | undefined, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n >= 0) || (integer && !Number.isInteger(n))) throw new Error(`--${name} expects a ${integer ? "whole " : ""}number ≥ 0, got '${value}'`);
  return n;
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: { seeds: { type: "string" }, noise: { type: "string" }, "gepa-rollouts": { type: "string" }, "gepa-pareto-tasks": { type: "string" } } });
  const seeds = positive("seeds", values.seeds, 8, true);
  const noise = positive("noise", values.noise, 0.1, false);
  const fixedBudget = values["gepa-rollouts"] === undefined ? undefined : positive("gepa-rollouts", values["gepa-rollouts"], 0, true);
  const paretoTasks = values["gepa-pareto-tasks"] === undefined ? {} : { paretoTasks: positive("gepa-pareto-tasks", values["gepa-pareto-tasks"], 0, true) };
  const heldoutSeed = await scoreRefundPrompts(SEED_PROMPTS, SPLITS.test, { noise });
  const totals = { gepa: 0, apo: 0, apoFull: 0, hGepa: 0, hApo: 0, hApoFull: 0 };
  for (let seed = 1; seed <= seeds; seed++) {
    process.stderr.write(`seed ${seed}: APO (successive halving)…\n`);
    const apo = await measure((client) => new APO({ client, model: "mock-optimizer", targets: COMPONENTS, seed }), noise);
    process.stderr.write(`seed ${seed}: APO (full evaluation)…\n`);
    const apoFull = await measure((client) => new APO({ client, model: "mock-optimizer", targets: COMPONENTS, seed, evaluation: { strategy: "full" } }), noise);
    const budget = fixedBudget ?? Math.floor(apo.rollouts / 2);
    process.stderr.write(`seed ${seed}: GEPA (maxRollouts ${budget})…\n`);
    const gepa = await measure((client) => new GEPA({ client, model: "mock-optimizer", components: COMPONENTS, maxRollouts: budget, seed, ...paretoTasks }), noise);
    totals.gepa += gepa.rollouts;
    totals.apo += apo.rollouts;
    totals.apoFull += apoFull.rollouts;
    totals.hGepa += gepa.heldout;
    totals.hApo += apo.heldout;
    totals.hApoFull += apoFull.heldout;
    console.log(
      JSON.stringify({
        bench: "gepa",
        seed,
        gepa_max_rollouts: budget,
        rollouts_gepa: gepa.rollouts,
        rollouts_apo: apo.rollouts,
        rollouts_apo_full: apoFull.rollouts,
        heldout_gepa: round(gepa.heldout, 3),
        heldout_apo: round(apo.heldout, 3),
        heldout_apo_full: round(apoFull.heldout, 3),
        heldout_seed: round(heldoutSeed, 3),
      }),
    );
  }
  console.log(
    JSON.stringify({
      bench: "gepa",
      seeds,
      noise,
      gepa_max_rollouts: fixedBudget ?? "half of rollouts_apo",
      ...(paretoTasks.paretoTasks === undefined ? {} : { gepa_pareto_tasks: paretoTasks.paretoTasks }),
      rollouts_gepa: round(totals.gepa / seeds, 1),
      rollouts_apo: round(totals.apo / seeds, 1),
      rollouts_apo_full: round(totals.apoFull / seeds, 1),
      ratio_gepa_apo: round(totals.gepa / totals.apo, 3),
      ratio_apo_apo_full: round(totals.apo / totals.apoFull, 3),
      heldout_gepa: round(totals.hGepa / seeds, 3),
      heldout_apo: round(totals.hApo / seeds, 3),
      heldout_apo_full: round(totals.hApoFull / seeds, 3),
      heldout_seed: round(heldoutSeed, 3),
    }),
  );
}
