/**
 * Training runs for the dashboard's run pages, recorded into a store as the built-in algorithms
 * record theirs: an RL run of ten steps (with the validation before the first step) and a GEPA
 * run with a seed, four reflections (one rejected by the gate), one merge, scores, fronts and
 * spend. Every entry is parsed with the schema of its kind before it is written, so the fixture
 * cannot drift from what the algorithms write.
 */
import type { Store } from "tracetrain";
import { RunEntryDataSchemas, RunEntryKinds } from "tracetrain/schemas";
import { SFTRoundEntrySchema } from "tracetrain/schemas";
import type { CandidateEntry, RLStepEntry, RunEntryInput, SFTRoundEntry } from "tracetrain/schemas";

const SCHEMAS = RunEntryDataSchemas;
type Kind = keyof typeof SCHEMAS;

/** An entry whose data has been parsed by its kind's schema (throws on any drift). */
export function entry(kind: Kind, data: Record<string, unknown>, key?: string): RunEntryInput {
  SCHEMAS[kind].parse(data);
  return { kind, data: data as RunEntryInput["data"], ...(key === undefined ? {} : { key }) };
}

// ---- RL -------------------------------------------------------------------------------------

export const RL_RUN_ID = "rl-room-0001";
export const RL_STEPS = 10;

/** Step `n` of a run that learns: train reward climbs, the no-signal share falls; val every other step. */
export function rlStepData(n: number): RLStepEntry {
  const trainReward = Math.round((0.22 + 0.06 * n - 0.004 * n * n * 0.5 + (n % 3 === 0 ? -0.02 : 0.01)) * 1000) / 1000;
  const data: RLStepEntry = {
    step: n,
    policyVersion: n - 1,
    newPolicyVersion: n,
    trainReward,
    rollouts: 32,
    dropped: { failed: n === 4 ? 1 : 0, noReward: 0, stale: n > 6 ? 1 : 0 },
    groups: 8,
    zeroAdvantageShare: Math.round((0.5 - 0.035 * n) * 1000) / 1000,
    refill: { rounds: n < 3 ? 1 : 0, groups: n < 3 ? 2 : 0, rollouts: n < 3 ? 8 : 0, initialZeroAdvantageShare: Math.round((0.6 - 0.035 * n) * 1000) / 1000 },
    samples: 40 + n,
    samplesPerRollout: Math.round(((40 + n) / 32) * 1000) / 1000,
    // Step 1 merged nothing and gained no reward yet: both are null, and the charts leave a gap.
    mergeRatio: n === 1 ? null : Math.round((1.1 + 0.05 * n) * 100) / 100,
    textOnlyCalls: 0,
    staleness: n > 6 ? 0.5 : n > 3 ? 0.25 : 0,
    seconds: { rollouts: 12 + n * 0.4, adapt: 0.8 + n * 0.05, train: 6.5 + (n % 2) * 0.7, eval: n % 2 === 0 ? 3.2 : 0 },
    metrics: { loss: Math.round((0.9 - 0.05 * n) * 1000) / 1000, kl: null },
    chunks: 1,
    tokensPerReward: n === 1 ? null : Math.round(52_000 / n),
    // Every call reported usage; step 1 earned no reward, so no tokens per unit reward either.
    tokens: stepTokens(n),
    totalTokensPerReward: n === 1 ? null : Math.round(stepTokens(n).total / (trainReward * 32)),
    ...(n > 5 ? { lengthPenalty: { mean: -0.01 * (n - 5), penalizedShare: Math.min(1, 0.1 * (n - 5)) } } : {}),
  };
  if (n % 2 === 0) data.valReward = Math.round((0.2 + 0.055 * n) * 1000) / 1000;
  return data;
}

/** Step `n`'s token figures: prompts shrink a little as the policy learns; priced as gpt-4.1-mini. */
export function stepTokens(n: number): NonNullable<RLStepEntry["tokens"]> {
  const input = 96_000 - 2_000 * n;
  const output = 18_000 - 900 * n;
  const counts = { input, output, total: input + output, calls: 64, costUsd: (input * 0.4 + output * 1.6) / 1e6 };
  return { ...counts, source: "usage", callsBySource: { usage: 64, counted: 0 }, byModel: { "gpt-4.1-mini": counts }, unpricedModels: [], judge: { input: 0, output: 0, total: 0, calls: 0, costUsd: 0 } };
}

export const rlStepEntry = (n: number) => entry(RunEntryKinds.rlStep, rlStepData(n) as unknown as Record<string, unknown>, `step-${n}`);
export const INITIAL_VAL = { label: "initial", split: "val", mean: 0.18, n: 16, ci95: [0.06, 0.3] } as const;
export const FINAL_TEST = { label: "final", split: "test", mean: 0.71, n: 40, ci95: [0.57, 0.85] } as const;

/** Records the RL run with steps 1…`steps`; `running` unless said otherwise. */
export async function recordRlRun(store: Store, runId = RL_RUN_ID, steps = RL_STEPS, status: "running" | "completed" = "completed"): Promise<void> {
  await store.recordRun({ runId, algorithm: "rl", status: "running", config: { steps: RL_STEPS, groupSize: 4, batchSize: 8, backend: "reference" } });
  await store.addRunEntries(runId, [entry(RunEntryKinds.evaluation, { ...INITIAL_VAL, ci95: [...INITIAL_VAL.ci95] }, "initial-val")]);
  const stepEntries = Array.from({ length: steps }, (_, i) => rlStepEntry(i + 1));
  if (stepEntries.length > 0) await store.addRunEntries(runId, stepEntries);
  const last = rlStepData(steps);
  if (status === "completed") await store.addRunEntries(runId, [entry(RunEntryKinds.evaluation, { ...FINAL_TEST, ci95: [...FINAL_TEST.ci95] }, "final-test")]);
  await store.recordRun({ runId, algorithm: "rl", status, summary: { steps, trainReward: last.trainReward ?? 0, policyVersion: steps } });
}

// ---- SFT ------------------------------------------------------------------------------------

export const SFT_RUN_ID = "sft-boxes-0001";
export const SFT_ROUNDS = 4;

/** An SFT round as the store's schema accepts it: 64 rollouts, more kept as the policy learns; round 1 without tokens (an older record). */
export function sftRound(n: number): SFTRoundEntry {
  const kept = Math.min(64, 8 * n);
  return SFTRoundEntrySchema.parse({
    round: n,
    policyVersion: n - 1,
    newPolicyVersion: n,
    source: "policy",
    rollouts: 64,
    filter: { ended: 64, failed: 1, noReward: 0, excludedByBehaviour: n === 2 ? 3 : 0, noSelectedCalls: 0, belowThreshold: 63 - kept - (n === 2 ? 3 : 0), beyondTopK: 0, kept },
    stats: { trainReward: kept / 64, keptReward: 1, keptShare: kept / 64, trainedTokens: 40 * kept, ...(n % 2 === 0 ? { valReward: n / 4 } : {}) },
    samples: { kind: "tokens", count: kept },
    textOnlyCalls: 0,
    seconds: { rollouts: 2, adapt: 0.5, train: 0.1 * n, eval: n % 2 === 0 ? 1 : 0 },
    metrics: { loss: 2 / n },
    chunks: 1,
    ...(n === 1 ? {} : { tokens: { ...stepTokens(n), source: "usage" }, tokensPerReward: 1000 / n }),
  });
}

/** An SFT run of `SFT_ROUNDS` rounds, with the validation before the first. */
export async function recordSftRun(store: Store, runId = SFT_RUN_ID): Promise<void> {
  await store.recordRun({ runId, algorithm: "sft", status: "running", config: { rounds: SFT_ROUNDS, tasksPerRound: 16, samplesPerTask: 4 } });
  await store.addRunEntries(runId, [entry(RunEntryKinds.evaluation, { ...INITIAL_VAL, ci95: [...INITIAL_VAL.ci95] }, "initial-val")]);
  await store.addRunEntries(runId, Array.from({ length: SFT_ROUNDS }, (_, i) => entry(RunEntryKinds.sftRound, sftRound(i + 1) as unknown as Record<string, unknown>, `round-${i + 1}`)));
  await store.recordRun({ runId, algorithm: "sft", status: "completed", summary: { rounds: SFT_ROUNDS } });
}

// ---- GEPA -----------------------------------------------------------------------------------

export const GEPA_RUN_ID = "gepa-room-0001";

const SEED_PROMPT = [
  "You are a meeting-room booking assistant.",
  "Read the request and list the rooms that are free.",
  "Answer with the room id only.",
].join("\n");

/** The candidates in recording order; c4 is rejected by the gate, m5 merges c2 and c3. */
export const GEPA_CANDIDATES: CandidateEntry[] = [
  { candidateId: "c0", resourcesId: "res-c0", origin: "seed", parents: [], edits: [], rationale: null, iteration: 0, accepted: true },
  {
    candidateId: "c1",
    resourcesId: "res-c1",
    origin: "reflection",
    parents: ["c0"],
    edits: [{ component: "system", before: SEED_PROMPT, after: SEED_PROMPT.replace("list the rooms that are free", "list the rooms that are free at the requested time and seat everyone") }],
    rationale: "Task 3 failed: the assistant booked a room for 4 people when 6 were attending. The prompt never asks to check capacity.",
    iteration: 1,
    accepted: true,
  },
  {
    candidateId: "c2",
    resourcesId: "res-c2",
    origin: "reflection",
    parents: ["c1"],
    edits: [
      {
        component: "system",
        before: SEED_PROMPT.replace("list the rooms that are free", "list the rooms that are free at the requested time and seat everyone"),
        after: `${SEED_PROMPT.replace("list the rooms that are free", "list the rooms that are free at the requested time and seat everyone")}\nPrefer the smallest room that fits.`,
      },
    ],
    rationale: "Tasks 5 and 8 lost points for choosing the largest free room; the grader prefers the tightest fit.",
    iteration: 2,
    accepted: true,
  },
  {
    candidateId: "c3",
    resourcesId: "res-c3",
    origin: "reflection",
    parents: ["c0"],
    edits: [{ component: "system", before: SEED_PROMPT, after: SEED_PROMPT.replace("Answer with the room id only.", "Answer with the room id only, for example: R-204.") }],
    rationale: "Answers such as “Room 204 is free” were not parsed; the expected format is the bare id.",
    iteration: 3,
    accepted: true,
  },
  {
    candidateId: "c4",
    resourcesId: "res-c4",
    origin: "reflection",
    parents: ["c2"],
    edits: [{ component: "system", before: c2System(), after: c2System().replace("You are a meeting-room booking assistant.", "You are a terse assistant.") }],
    rationale: "Shorter instructions might reduce token use.",
    iteration: 4,
    accepted: false,
  },
  {
    candidateId: "m5",
    resourcesId: "res-m5",
    origin: "merge",
    parents: ["c2", "c3"],
    edits: [{ component: "system", before: c2System(), after: c2System().replace("Answer with the room id only.", "Answer with the room id only, for example: R-204.") }],
    rationale: "Merged c2 (capacity and fit) with c3 (answer format): they win different tasks.",
    iteration: 5,
    accepted: true,
  },
];

/** c2's system prompt: c1's, plus the tightest fit. */
function c2System(): string {
  return `${SEED_PROMPT.replace("list the rooms that are free", "list the rooms that are free at the requested time and seat everyone")}\nPrefer the smallest room that fits.`;
}

/** Latest pareto scores per candidate (the page shows these). */
export const GEPA_SCORES: Record<string, { mean: number; n: number; ci95: [number, number] }> = {
  c0: { mean: 0.35, n: 12, ci95: [0.1, 0.6] },
  c1: { mean: 0.52, n: 12, ci95: [0.27, 0.77] },
  c2: { mean: 0.61, n: 12, ci95: [0.38, 0.84] },
  c3: { mean: 0.58, n: 12, ci95: [0.33, 0.83] },
  m5: { mean: 0.74, n: 12, ci95: [0.52, 0.96] },
};
export const GEPA_FRONT = { iteration: 5, candidateIds: ["m5", "c3", "c2"], wins: { m5: 7, c3: 3, c2: 2 } };
export const GEPA_SPEND = { rollouts: 412, optimizerTokens: 38_500, usd: 1.37, limits: { maxRollouts: 600, maxOptimizerTokens: null, maxUsd: 5 } };

/** Records the GEPA run as GEPA would, iteration by iteration. */
export async function recordGepaRun(store: Store, runId = GEPA_RUN_ID): Promise<void> {
  await store.recordRun({ runId, algorithm: "gepa", config: { maxMetricCalls: 600, maxUsd: 5, reflectionMinibatch: 3 } });
  let spent = 0;
  for (const candidate of GEPA_CANDIDATES) {
    spent += candidate.origin === "seed" ? 12 : 80;
    const score = GEPA_SCORES[candidate.candidateId];
    const minibatch = { candidateId: candidate.candidateId, on: "minibatch", mean: candidate.accepted ? 0.67 : 0.33, n: 3, ci95: null };
    const entries = [
      entry(RunEntryKinds.candidate, candidate as unknown as Record<string, unknown>, `candidate-${candidate.candidateId}`),
      ...(candidate.origin === "seed" ? [] : [entry(RunEntryKinds.score, minibatch)]),
      ...(score === undefined ? [] : [entry(RunEntryKinds.score, { candidateId: candidate.candidateId, on: "pareto", ...score })]),
      entry(RunEntryKinds.front, frontAfter(candidate.iteration)),
      entry(RunEntryKinds.spend, { ...GEPA_SPEND, rollouts: Math.min(GEPA_SPEND.rollouts, spent), optimizerTokens: Math.round((GEPA_SPEND.optimizerTokens * candidate.iteration) / 5), usd: Math.round(GEPA_SPEND.usd * candidate.iteration * 20) / 100 }),
    ];
    await store.addRunEntries(runId, entries);
  }
  await store.addRunEntries(runId, [entry(RunEntryKinds.front, GEPA_FRONT), entry(RunEntryKinds.spend, GEPA_SPEND)]);
  await store.recordRun({ runId, algorithm: "gepa", status: "completed", summary: { best: "m5", bestScore: 0.74, candidates: GEPA_CANDIDATES.length } });
}

/** The front after an iteration, before the final one. */
function frontAfter(iteration: number): Record<string, unknown> {
  const accepted = GEPA_CANDIDATES.filter((c) => c.accepted && c.iteration <= iteration).map((c) => c.candidateId);
  const front = accepted.slice(-2);
  return { iteration, candidateIds: front, wins: Object.fromEntries(front.map((id, i) => [id, i + 1])) };
}
