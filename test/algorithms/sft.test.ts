/**
 * SFT on the CPU reference policy, with real parts: a SQLite store, openai-SDK agents, the LLM
 * gateway and the reference backend's HTTP endpoint. Rejection sampling lifts a task the policy
 * solves only by chance (1 in 8) to ≥ 0.9, and the verdict says so; the same budget without the
 * reward filter learns nothing and the verdict says that too; distillation from a teacher that is
 * right (a mock LLM) raises the student on the demo's tool-calling task; bad options are refused.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { agent, SFT, Trainer, type SFTOptions, type SFTResult } from "tracetrain";
import { SqliteStore } from "tracetrain/store";
import { ReferenceBackend } from "tracetrain/rl";
import { SFTRoundEntrySchema, ValidationError } from "tracetrain/schemas";
import { startMockLlm, type Responder } from "tracetrain/testing";
import { ACTIONS, makeTasks, treasureHunter, type TreasureTask } from "../../src/demo/treasure-boxes.js";
import { entriesOf, interruptible, untilEntry } from "../support/run-records.js";

const dir = mkdtempSync(join(tmpdir(), "tracetrain-sft-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const warnings: string[] = [];
const logger = { debug() {}, info() {}, warn: (message: string) => void warnings.push(message), error() {} };

/** Eight answers, each one o200k token: a policy picking at random is right 1 time in 8. */
const NUMBERS = Array.from({ length: 8 }, (_, i) => String(200 + i));

interface EchoTask {
  id: string;
  target: string;
}

function echoTasks(count: number, offset: number): EchoTask[] {
  return Array.from({ length: count }, (_, i) => ({ id: `t${offset + i}`, target: NUMBERS[(offset + i * 3) % NUMBERS.length]! }));
}

const echo = agent(
  async (task: EchoTask, ctx) => {
    const llm = ctx.llm();
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: "none", maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: llm.model, messages: [{ role: "user", content: `Reply with the number ${task.target} and nothing else.` }] }, { signal: ctx.signal });
    return reply.choices[0]?.message.content?.trim() === task.target ? 1 : 0;
  },
  { name: "echo" },
);

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
  warnings.length = 0;
});

let stores = 0;
async function rig(actions: readonly string[]) {
  const backend = await ReferenceBackend.start({ actions: [...actions], seed: 3 });
  const store = new SqliteStore(join(dir, `sft-${++stores}.db`));
  cleanups.push(async () => {
    await store.close();
    await backend.close();
  });
  return { backend, store };
}

async function fitEcho(options: Omit<SFTOptions, "backend">): Promise<SFTResult & { store: SqliteStore }> {
  const { backend, store } = await rig(NUMBERS);
  const trainer = new Trainer({ store, runners: 16, progress: false, logger, handleSignals: false, algorithm: new SFT({ backend, ...options }) });
  cleanups.push(() => trainer.close());
  const { result } = await trainer.fit(echo, { train: echoTasks(16, 0), val: echoTasks(24, 16) });
  return { ...(result as SFTResult), store };
}

function curve(result: SFTResult): string {
  return [result.initialValReward, ...result.rounds.map((r) => r.stats.valReward)].map((v) => v?.toFixed(2)).join(" → ");
}

const BUDGET = { rounds: 5, tasksPerRound: 8, samplesPerTask: 8, seed: 2 } as const;

describe("SFT by rejection sampling", () => {
  it("lifts a task solved by chance to ≥ 0.9 and says so, recording each round and what each filter kept", async () => {
    const result = await fitEcho({ ...BUDGET, runId: "sft-rs" });
    console.log(`rejection sampling: val ${curve(result)}; kept ${result.rounds.map((r) => r.filter.kept).join(" ")} of 64 per round`);
    expect(result.initialValReward).toBeLessThan(0.4);
    expect(result.finalValReward).toBeGreaterThanOrEqual(0.9);
    expect(result.verdict).toMatchObject({ outcome: "improved", on: "val", tasks: 24 });
    expect(result.rounds).toHaveLength(5);
    expect(result.trainingRollouts).toBe(5 * 8 * 8);
    for (const round of result.rounds) {
      const f = round.filter;
      expect(f.ended).toBe(64);
      // Every rollout is accounted for: left out by exactly one filter, or kept.
      expect(f.failed + f.noReward + f.excludedByBehaviour + f.noSelectedCalls + f.belowThreshold + f.beyondTopK + f.kept).toBe(64);
      expect(round.stats.keptReward).toBe(1);
      expect(round.samples).toEqual({ kind: "tokens", count: f.kept });
      expect(round.metrics).toMatchObject({ samples: f.kept, chat_samples: 0 });
    }
    expect(result.rounds[0]!.filter.belowThreshold).toBeGreaterThan(0);
    expect(result.policyVersion).toBe(5);
    expect(result.checkpoints.map((c) => c.checkpoint_id)).toEqual(["sft-rs.round5"]);
    const entries = await result.store.queryRunEntries({ runId: "sft-rs", kind: ["sft.round"] });
    expect(entries.items.map((e) => SFTRoundEntrySchema.parse(e.data))).toEqual(result.rounds);
    const run = await result.store.getRun("sft-rs");
    expect(run).toMatchObject({ algorithm: "sft", status: "completed" });
    expect(run.summary).toMatchObject({ rounds: 5, trainingRollouts: 320, verdict: result.verdict });
  }, 120_000);

  it("learns nothing from the same budget without the reward filter (the noise control), and its verdict says so", async () => {
    const result = await fitEcho({ ...BUDGET, runId: "sft-control", filter: { minReward: null } });
    console.log(`noise control: val ${curve(result)}; ${result.verdict?.summary}`);
    expect(result.rounds.every((r) => r.filter.kept === 64)).toBe(true);
    // Imitating its own unfiltered samples moves the policy at random (the validation curve wanders), never to the task.
    expect(result.finalValReward).toBeLessThan(0.9);
    expect(result.verdict?.outcome).not.toBe("improved");
  }, 120_000);

  it("keeps the top k of each group and trains on them only", async () => {
    const result = await fitEcho({ rounds: 1, tasksPerRound: 4, samplesPerTask: 6, runId: "sft-topk", filter: { minReward: null, topK: 2 }, evalEvery: 0 });
    const [round] = result.rounds;
    expect(round!.filter).toMatchObject({ ended: 24, beyondTopK: 16, kept: 8 });
    expect(round!.metrics.samples).toBe(8);
    expect(result.verdict).toBeNull();
  }, 60_000);

  it("sends the same trajectories as chat samples when told to, and the backend learns them as well", async () => {
    const result = await fitEcho({ ...BUDGET, rounds: 2, runId: "sft-chat", samples: "chat" });
    expect(result.rounds.map((r) => r.samples.kind)).toEqual(["chat", "chat"]);
    for (const round of result.rounds) expect(round.metrics).toMatchObject({ chat_samples: round.filter.kept, samples: 0 });
    expect(result.rounds.every((r) => r.stats.trainedTokens === null)).toBe(true);
    expect(result.finalValReward).toBeGreaterThanOrEqual(0.9);
  }, 60_000);

  it("trains only on the selected agents' calls: a rollout without one is left out and counted", async () => {
    const selected = await fitEcho({ rounds: 1, tasksPerRound: 2, samplesPerTask: 4, runId: "sft-agents", filter: { minReward: null, agents: ["echo"] }, evalEvery: 0 });
    expect(selected.rounds[0]!.filter).toMatchObject({ ended: 8, noSelectedCalls: 0, kept: 8 });
    const other = await fitEcho({ rounds: 1, tasksPerRound: 2, samplesPerTask: 4, runId: "sft-other", filter: { minReward: null, agents: ["planner"] }, evalEvery: 0 });
    expect(other.rounds[0]).toMatchObject({ filter: { ended: 8, noSelectedCalls: 8, kept: 0 }, skipped: "nothing kept" });
  }, 60_000);

  it("says so when a round keeps nothing, and never trains on nothing", async () => {
    const result = await fitEcho({ rounds: 2, tasksPerRound: 2, samplesPerTask: 2, runId: "sft-none", filter: { minReward: 2 }, evalEvery: 0 });
    expect(result.rounds.map((r) => r.skipped)).toEqual(["nothing kept", "nothing kept"]);
    expect(result.rounds.map((r) => r.filter.belowThreshold)).toEqual([4, 4]);
    expect(result.policyVersion).toBe(0);
    expect(warnings.filter((w) => /no rollout of round \d passed the filters \(4 ended: .*4 below the reward threshold/.test(w))).toHaveLength(2);
  }, 60_000);
});

describe("SFT's run", () => {
  it("stops at an interruption with the rounds that ended recorded, and a resumed run finishes it without running a rollout twice", async () => {
    const { backend, store } = await rig(NUMBERS);
    const options = { backend, rounds: 6, tasksPerRound: 2, samplesPerTask: 4, runId: "sft-resume", evalEvery: 0, filter: { minReward: null } } as const;
    const data = { train: echoTasks(8, 0), val: echoTasks(4, 8) };
    const first = interruptible(new SFT(options));
    const stopper = new Trainer({ store, runners: 8, progress: false, logger, handleSignals: false, algorithm: first.algorithm });
    const stopping = stopper.fit(echo, data);
    await untilEntry(store, "sft-resume", (e) => e.kind === "sft.round");
    first.interrupt();
    const stopped = (await stopping).result as SFTResult;
    await stopper.close();
    expect(stopped.stoppedBecause).toBe("interrupted");
    expect(stopped.rounds.length).toBeLessThan(6);
    expect(await store.getRun("sft-resume")).toMatchObject({ status: "stopped", summary: { stoppedBecause: "interrupted", rounds: stopped.rounds.length } });

    const resumer = new Trainer({ store, runners: 8, progress: false, logger, handleSignals: false, algorithm: new SFT(options) });
    cleanups.push(() => resumer.close());
    const resumed = (await resumer.fit(echo, data)).result as SFTResult;
    expect(resumed.stoppedBecause).toBe("completed");
    expect(resumed.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4, 5, 6]);
    // Each round recorded once, and each update applied once (a round applied before the interruption is not applied again): the backend's version counts them.
    expect((await entriesOf(store, "sft-resume", ["sft.round"])).map((e) => e.data.round)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(resumed.rounds[0]!.skipped).toBe("already applied");
    const applied = new Set([...stopped.rounds, ...resumed.rounds].filter((r) => r.newPolicyVersion !== r.policyVersion).map((r) => r.round));
    expect(applied.size).toBeGreaterThanOrEqual(5);
    expect(backend.policyVersion).toBe(applied.size);
    const training = await store.queryRollouts({ mode: ["train"], limit: 1000 });
    expect(training.items).toHaveLength(6 * 2 * 4);
    expect(await store.getRun("sft-resume")).toMatchObject({ status: "completed" });
  }, 60_000);
});

/** A teacher that plays the demo perfectly: opens the box the request names, then says the colour the tool reported. */
const perfectTeacher: Responder = ({ body }) => {
  const messages = body.messages as Array<{ role: string; content?: string | null }>;
  const tool = messages.findLast((m) => m.role === "tool");
  if (tool === undefined) {
    const box = Number(/box (\d)/.exec(messages.findLast((m) => m.role === "user")?.content ?? "")?.[1]);
    return { toolCalls: [{ name: "open_box", arguments: { box } }] };
  }
  return { text: /holds a (\w+) gem/.exec(tool.content ?? "")?.[1] ?? "?" };
};

describe("SFT by distillation", () => {
  it("raises the student on the teacher's trajectories, sent as chat samples, collecting with the teacher and evaluating the student", async () => {
    const teacher = await startMockLlm({ responder: perfectTeacher });
    cleanups.push(() => teacher.close());
    const { backend, store } = await rig(ACTIONS);
    const sft = new SFT({ backend, teacher: { baseUrl: teacher.baseUrl, model: "teacher-large" }, rounds: 3, tasksPerRound: 8, samplesPerTask: 1, runId: "sft-distil", seed: 1 });
    const trainer = new Trainer({ store, runners: 16, progress: false, logger, handleSignals: false, algorithm: sft });
    cleanups.push(() => trainer.close());
    const train: TreasureTask[] = makeTasks(24, 11, "d");
    const { result } = await trainer.fit(treasureHunter, { train, val: makeTasks(16, 12, "v"), test: makeTasks(16, 13, "h") });
    const r = result as SFTResult;
    console.log(`distillation: val ${curve(r)}; ${r.verdict?.summary} (on ${r.verdict?.on})`);
    // The teacher collected every training rollout (two calls each), and scored full marks.
    expect(teacher.requests.filter((q) => q.path === "/v1/chat/completions")).toHaveLength(3 * 8 * 2);
    expect(r.rounds.map((x) => x.source)).toEqual(["teacher", "teacher", "teacher"]);
    expect(r.rounds.map((x) => x.stats.trainReward)).toEqual([1, 1, 1]);
    expect(r.rounds.map((x) => x.samples)).toEqual([{ kind: "chat", count: 8 }, { kind: "chat", count: 8 }, { kind: "chat", count: 8 }]);
    expect(r.rounds[0]!.textOnlyCalls).toBe(16);
    expect(r.rounds[0]!.metrics).toMatchObject({ chat_samples: 8, samples: 0 });
    // The student, evaluated through its own endpoint, learnt from them; the verdict is on the held-out test split.
    expect(r.initialValReward).toBeLessThan(0.3);
    expect(r.finalValReward).toBeGreaterThan(0.8);
    expect(r.verdict).toMatchObject({ outcome: "improved", on: "test", tasks: 16 });
    expect(r.policyVersion).toBe(3);
  }, 120_000);
});

describe("SFT options", () => {
  it("refuses bad options with a ValidationError naming the field", async () => {
    const { backend } = await rig(NUMBERS);
    const refused = (options: unknown) => {
      try {
        new SFT(options as SFTOptions);
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((i) => i.path);
      }
      throw new Error("accepted");
    };
    expect(refused({ backend, rounds: 0 })).toEqual(["rounds"]);
    expect(refused({ backend, filter: { topK: 0 } })).toEqual(["filter.topK"]);
    expect(refused({ backend, filter: { minRewrd: 1 } })).toEqual(["filter"]);
    expect(refused({ backend, teacher: { baseUrl: "ftp://x", model: "m" } })[0]).toMatch(/^teacher/);
    expect(refused({ backend, samples: "bytes" })).toEqual(["samples"]);
    // A teacher is a base URL and a model, or an llm resource.
    expect(() => new SFT({ backend, teacher: { kind: "llm", baseUrl: "http://127.0.0.1:9/v1", model: "t", sampling: { temperature: 0.7 } } })).not.toThrow();
    expect(refused({ backend: { info() {}, endpoints() {}, train() {}, checkpoint() {}, close() {} } })).toEqual(["backend"]);
  });

  it("refuses distillation into a backend that takes no chat samples, before any rollout", async () => {
    const { backend, store } = await rig(NUMBERS);
    const tokensOnly = Object.assign(Object.create(backend) as ReferenceBackend, {
      info: async () => ({ ...(await backend.info()), capabilities: { ...(await backend.info()).capabilities, supervised_chat: false } }),
    });
    const trainer = new Trainer({ store, progress: false, logger, handleSignals: false, algorithm: new SFT({ backend: tokensOnly, teacher: { baseUrl: "http://127.0.0.1:9/v1", model: "t" } }) });
    cleanups.push(() => trainer.close());
    await expect(trainer.fit(echo, { train: echoTasks(2, 0) })).rejects.toMatchObject({ issues: [expect.objectContaining({ path: "teacher" })] });
    expect((await store.queryRollouts({})).items).toHaveLength(0);
  });
});
