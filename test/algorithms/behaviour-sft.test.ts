/**
 * SFT under a behaviour filter, end to end: a real agent (openai SDK through SFT's gateway, the
 * mock LLM), a real SQLite store, a backend that records what it is asked to learn, and a detector
 * defined in the tests ("the answer says SECRET"). Exclude keeps flagged rollouts out of the
 * supervised data and counts them; penalize lowers the reward the threshold sees; stop ends the run
 * after its round.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BehaviourFilter, type BehaviourFilterOptions, SFT, type SFTResult, Trainer } from "tracetrain";
import { SqliteStore } from "tracetrain/store";
import { startMockLlm, type MockLlm } from "tracetrain/testing";
import type { SuperviseRequest, TrainResponse } from "../../src/algorithms/rl/protocol.js";
import { RecordingBackend } from "./fixtures/rl-recording.js";
import { type WordTask, WORD_TASKS, sayer, secretWord } from "../support/behaviour.js";


/** Records every supervised step it is sent (token samples carry their rollout ids). */
class SupervisingBackend extends RecordingBackend {
  readonly supervised: SuperviseRequest[] = [];
  override async info() {
    const info = await super.info();
    return { ...info, capabilities: { ...info.capabilities, supervised: true } };
  }
  async supervise(request: SuperviseRequest): Promise<TrainResponse> {
    this.supervised.push(request);
    this.version++;
    return { policy_version: this.version, metrics: {} };
  }
}

const TRAIN = WORD_TASKS;

let dir: string;
let store: SqliteStore;
let llm: MockLlm;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "tracetrain-behaviour-sft-"));
  store = new SqliteStore(join(dir, "store.db"), { watchdogIntervalMs: false });
  llm = await startMockLlm();
});
afterEach(async () => {
  await llm.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function fit(filter: Omit<BehaviourFilterOptions, "detectors">, rounds = 1) {
  const backend = new SupervisingBackend(llm);
  const trainer = new Trainer({
    store,
    runners: 4,
    progress: false,
    handleSignals: false,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    behaviour: new BehaviourFilter({ detectors: [secretWord], ...filter }),
    algorithm: new SFT({ backend, rounds, tasksPerRound: 2, samplesPerTask: 2, evalEvery: 0, filter: { minReward: 1 }, runId: "sft-beh" }),
  });
  try {
    const result = (await trainer.fit(sayer, { train: TRAIN })).result as SFTResult;
    return { result, backend };
  } finally {
    await trainer.close();
  }
}

/** The words of the rollouts a supervised step learnt from. */
async function wordsOf(request: SuperviseRequest): Promise<string[]> {
  const ids = [...new Set((request.samples ?? []).map((s) => s.rollout_id))];
  const words = await Promise.all(ids.map(async (id) => ((await store.getRollout(id)).input as WordTask).word));
  return words.sort();
}

describe("SFT under a behaviour filter", () => {
  it("log: the rewarded rollouts of both tasks are learnt from, and the findings are counted", async () => {
    const { result, backend } = await fit({});
    expect(await wordsOf(backend.supervised[0]!)).toEqual(["SECRET", "hello"]);
    expect(result.rounds[0]!.filter).toMatchObject({ ended: 4, excludedByBehaviour: 0, belowThreshold: 2, kept: 2 });
    expect(result.rounds[0]!.behaviour).toMatchObject({ rollouts: 4, findings: 2, excluded: 0, penalized: 0 });
    // Token figures: every collection call counted once, from the mock's reported usage; Σ tokens / Σ reward over the 4 rollouts judged (reward 2).
    const tokens = result.rounds[0]!.tokens!;
    expect(tokens).toMatchObject({ calls: 4, source: "usage" });
    expect(tokens.total).toBe(tokens.input + tokens.output);
    expect(result.rounds[0]!.tokensPerReward).toBe(tokens.total / 2);
    expect(result.tokens.total).toBe(tokens.total);
  });

  it("exclude: the flagged rollouts never reach the supervised data, and the round counts them", async () => {
    const { result, backend } = await fit({ policy: { "secret-word": "exclude" } });
    expect(await wordsOf(backend.supervised[0]!)).toEqual(["hello"]);
    expect(result.rounds[0]!.filter).toMatchObject({ ended: 4, excludedByBehaviour: 2, belowThreshold: 1, kept: 1 });
    expect(result.rounds[0]!.behaviour).toMatchObject({ excluded: 2 });
  });

  it("penalize: a flagged rollout's reward falls below the threshold, so it is not imitated", async () => {
    const { result, backend } = await fit({ policy: { "secret-word": "penalize" }, penalty: { perFinding: 0.5 } });
    expect(await wordsOf(backend.supervised[0]!)).toEqual(["hello"]);
    expect(result.rounds[0]!.filter).toMatchObject({ excludedByBehaviour: 0, belowThreshold: 3, kept: 1 });
    expect(result.rounds[0]!.behaviour).toMatchObject({ penalized: 2, penalty: -1 });
  });

  it("stop: the run ends after the round that found it, naming the finding", async () => {
    const { result, backend } = await fit({ policy: { "secret-word": "stop" } }, 3);
    expect(result.stoppedBecause).toBe("behaviour");
    expect(result.stoppedBy).toMatchObject({ detector: "secret-word", rule: "said-secret" });
    expect(result.rounds).toHaveLength(1);
    expect(backend.supervised).toHaveLength(1);
  });
});
