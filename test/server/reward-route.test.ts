/**
 * `POST /v1/rollouts/:rolloutId/attempts/:attemptId/rewards` over real HTTP, against a MemoryStore
 * and a SqliteStore: what an agent without the tracetrain SDK sends, and the span it becomes —
 * compared with what `emitReward` writes inside a traced rollout.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attr } from "tracetrain/instrumentations";
import { MemoryStore, SqliteStore } from "tracetrain/store";
import { type RewardOptions, type Span, type Store, Tracer, emitReward } from "tracetrain";
import { type StoreServer, startStoreServer } from "tracetrain/server";

const run = promisify(execFile);
const TOKEN = "reward-s3cret";
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const dir = mkdtempSync(join(tmpdir(), "tracetrain-reward-route-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backends: Array<[string, () => Store]> = [
  ["MemoryStore", () => new MemoryStore({ watchdogIntervalMs: false })],
  ["SqliteStore", () => new SqliteStore(join(dir, `store-${Date.now()}.db`), { watchdogIntervalMs: false })],
];

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

describe.each(backends)("reward route with a %s", (_name, open) => {
  let store: Store;
  let server: StoreServer;
  beforeAll(async () => {
    store = open();
    server = await startStoreServer({ store, port: 0, token: TOKEN, logger: quiet });
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });

  const rewardPath = (rolloutId: string, attemptId: string) => `/v1/rollouts/${encodeURIComponent(rolloutId)}/attempts/${encodeURIComponent(attemptId)}/rewards`;

  /** A POST as any HTTP client makes it (no tracetrain code on the sending side). */
  async function post(path: string, body: string | undefined, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }): Promise<Answer> {
    const response = await fetch(new URL(path, server.url), { method: "POST", headers: { "content-type": "application/json", ...headers }, ...(body === undefined ? {} : { body }) });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  /** A claimed attempt, as a runner would have it. */
  async function claim(): Promise<{ rolloutId: string; attemptId: string }> {
    const rollout = await store.enqueue({ input: "task" });
    const [claimed] = await store.dequeue({ workerId: "w-1" });
    expect(claimed!.rollout.rolloutId).toBe(rollout.rolloutId);
    return { rolloutId: rollout.rolloutId, attemptId: claimed!.attempt.attemptId };
  }

  async function rewardSpans(target: { rolloutId: string; attemptId: string }): Promise<Span[]> {
    return (await store.querySpans({ ...target, name: "tracetrain.reward" })).items;
  }

  /** The reward span `emitReward(value, options)` writes inside a traced rollout of a fresh attempt. */
  async function emitted(value: number | Record<string, number>, options: RewardOptions = {}): Promise<Span> {
    const target = await claim();
    await new Tracer({ sink: store, logger: quiet }).trace(target, () => emitReward(value, options));
    const [span] = await rewardSpans(target);
    return span!;
  }

  /** What must agree between a posted and an emitted reward: everything but ids, times and the layer. */
  function shape(span: Span) {
    const { [Attr.layer]: layer, ...attributes } = span.attributes;
    return { layer, name: span.name, kind: span.kind, status: span.status, links: span.links, attributes, events: span.events.map((e) => ({ name: e.name, attributes: e.attributes })) };
  }

  it("records a final reward posted by the real curl binary as the span emitReward writes", async () => {
    const target = await claim();
    const before = Date.now();
    const { stdout } = await run("/usr/bin/curl", [
      "-sS",
      "-X",
      "POST",
      `${server.url}${rewardPath(target.rolloutId, target.attemptId)}`,
      "-H",
      `authorization: Bearer ${TOKEN}`,
      "-H",
      "content-type: application/json",
      "-d",
      '{"value": 1}',
    ]);
    const answer = JSON.parse(stdout) as { spanId: string; final: boolean };
    expect(answer).toEqual({ spanId: expect.stringMatching(/^[0-9a-f]{16}$/), final: true });

    const [span] = await rewardSpans(target);
    expect(span).toMatchObject({ spanId: answer.spanId, parentId: null, traceId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(span!.startTime).toBeGreaterThanOrEqual(before - 1);
    expect(span!.endTime).toBe(span!.startTime);
    expect(span!.events[0]!.time).toBe(span!.startTime);

    const reference = shape(await emitted(1));
    expect(reference.layer).toBe("emitter");
    expect(shape(span!)).toEqual({ ...reference, layer: "external" });
    expect(shape(span!).attributes).toEqual({
      [Attr.spanType]: "reward",
      [Attr.rewardValue]: 1,
      [Attr.rewardName]: "reward",
      [Attr.rewardFinal]: true,
    });
    expect(shape(span!).events).toEqual([{ name: "gen_ai.evaluation.result", attributes: { [Attr.evaluationName]: "reward", [Attr.evaluationScore]: 1 } }]);
  });

  it("runs the guide's curl command as written", async () => {
    const guide = readFileSync(fileURLToPath(new URL("../../docs/wrap-your-agent.md", import.meta.url)), "utf8");
    const command = /^curl -X POST "\$STORE\/v1\/rollouts\/.*\/rewards".*$/m.exec(guide)?.[0];
    expect(command, "docs/wrap-your-agent.md shows the reward curl command").toBeDefined();
    const target = await claim();
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", STORE: server.url, ROLLOUT_ID: target.rolloutId, ATTEMPT_ID: target.attemptId, TRACETRAIN_TOKEN: TOKEN };
    const { stdout } = await run("/bin/sh", ["-c", command!], { env });
    expect(JSON.parse(stdout)).toMatchObject({ final: true });
    expect((await rewardSpans(target)).map((s) => s.attributes[Attr.rewardValue])).toEqual([1]);
  });

  it("records named values, with primary picking the reward's value (default: the first)", async () => {
    const value = { accuracy: 0.5, brevity: 1 };
    const target = await claim();
    expect(await post(rewardPath(target.rolloutId, target.attemptId), JSON.stringify({ value, primary: "brevity" }))).toMatchObject({ status: 200, json: { final: true } });
    const [span] = await rewardSpans(target);
    expect(shape(span!)).toEqual({ ...shape(await emitted(value, { primary: "brevity" })), layer: "external" });
    expect(span!.attributes).toMatchObject({ [Attr.rewardValue]: 1, [Attr.rewardName]: "brevity", [Attr.rewardValues]: value });

    const first = await claim();
    await post(rewardPath(first.rolloutId, first.attemptId), JSON.stringify({ value }));
    const [defaulted] = await rewardSpans(first);
    expect(shape(defaulted!)).toEqual({ ...shape(await emitted(value)), layer: "external" });
    expect(defaulted!.attributes).toMatchObject({ [Attr.rewardValue]: 0.5, [Attr.rewardName]: "accuracy" });
  });

  it("makes a reward for one call (callId) intermediate unless final says otherwise; takes name and time", async () => {
    const callId = "0123456789abcdef";
    const target = await claim();
    const path = rewardPath(target.rolloutId, target.attemptId);
    expect((await post(path, JSON.stringify({ value: 0.2, callId }))).json).toMatchObject({ final: false });
    expect((await post(path, JSON.stringify({ value: 0.7, callId, final: true }))).json).toMatchObject({ final: true });
    expect((await post(path, JSON.stringify({ value: 0.9, name: "judge", time: 1_700_000_000_000 }))).json).toMatchObject({ final: true });
    const [intermediate, forced, named] = await rewardSpans(target);
    expect(shape(intermediate!)).toEqual({ ...shape(await emitted(0.2, { callId })), layer: "external" });
    expect(intermediate!.attributes).toMatchObject({ [Attr.rewardFinal]: false, [Attr.rewardCallId]: callId });
    expect(shape(forced!)).toEqual({ ...shape(await emitted(0.7, { callId, final: true })), layer: "external" });
    expect(shape(named!)).toEqual({ ...shape(await emitted(0.9, { name: "judge" })), layer: "external" });
    expect(named).toMatchObject({ startTime: 1_700_000_000_000, endTime: 1_700_000_000_000, events: [{ time: 1_700_000_000_000 }] });
    expect([intermediate, forced, named].map((s) => s!.sequence)).toEqual([1, 2, 3]);
  });

  it("records the evaluator's feedback text as emitReward does", async () => {
    const target = await claim();
    const body = { value: 0, feedback: "The answer names the wrong room." };
    expect((await post(rewardPath(target.rolloutId, target.attemptId), JSON.stringify(body))).status).toBe(200);
    const [span] = await rewardSpans(target);
    expect(shape(span!)).toEqual({ ...shape(await emitted(0, { feedback: body.feedback })), layer: "external" });
    expect(span!.attributes[Attr.rewardFeedback]).toBe(body.feedback);
    expect(span!.events[0]!.attributes).toMatchObject({ "gen_ai.evaluation.explanation": body.feedback });
  });

  it("stores a reward for an attempt that has already ended, as any late span, without changing its outcome", async () => {
    const target = await claim();
    await store.completeAttempt(target.rolloutId, target.attemptId, { status: "succeeded", finalReward: 0.1 });
    expect((await post(rewardPath(target.rolloutId, target.attemptId), JSON.stringify({ value: 0.8 }))).status).toBe(200);
    expect((await rewardSpans(target)).map((s) => s.attributes[Attr.rewardValue])).toEqual([0.8]);
    expect((await store.getRollout(target.rolloutId)).attempts[0]).toMatchObject({ status: "succeeded", finalReward: 0.1 });
  });

  it("answers 404 for an unknown rollout or attempt, or an attempt of another rollout, and stores nothing", async () => {
    const a = await claim();
    const b = await claim();
    const spansBefore = (await store.stats()).spans;
    for (const [rolloutId, attemptId] of [
      ["ro-missing", a.attemptId],
      [a.rolloutId, "at-missing"],
      [a.rolloutId, b.attemptId],
    ] as const) {
      const answer = await post(rewardPath(rolloutId, attemptId), JSON.stringify({ value: 1 }));
      expect(answer.status, `${rolloutId}/${attemptId}`).toBe(404);
      expect(answer.json).toMatchObject({ error: { code: "not_found", message: expect.stringContaining(attemptId) } });
    }
    expect((await store.stats()).spans).toBe(spansBefore);
  });

  it("answers 400 naming the field for invalid bodies and ids, and stores nothing", async () => {
    const target = await claim();
    const path = rewardPath(target.rolloutId, target.attemptId);
    const cases: Array<[body: string | undefined, field: string, message: RegExp]> = [
      ['{"value": "NaN"}', "value", /expected a number or a non-empty \{name: number\} object, got string/],
      ['{"value": 1e999}', "value", /expected a finite number, got Infinity/],
      ['{"value": null}', "value", /got null/],
      ['{"value": {}}', "value", /non-empty/],
      ['{"value": [1]}', "value", /got an array/],
      ['{"value": {"accuracy": 1, "brevity": "high"}}', "value.brevity", /expected a finite number, got string/],
      ['{"value": {"a": 1}, "primary": "b"}', "primary", /primary 'b' is not one of a/],
      ['{"value": {"a": 1}, "primary": "toString"}', "primary", /primary 'toString'/],
      ['{"name": "reward"}', "value", /got undefined/],
      ['{"value": 1, "score": 2}', "", /unrecognized key.*score/i],
      ['{"value": 1, "final": "yes"}', "final", /boolean/],
      ['{"value": 1, "name": 5}', "name", /string/],
      ['{"value": 1, "callId": ""}', "callId", /./],
      ['{"value": 1, "time": -1}', "time", /./],
      ['{"value": 1, "time": "now"}', "time", /number/],
      ['{"value": 1, "feedback": 3}', "feedback", /string/],
      [JSON.stringify({ value: 1, feedback: "x".repeat(8001) }), "feedback", /8001 characters long; at most 8000/],
      ["[1]", "", /object/],
      ["{not json", "", /not valid JSON/],
      [undefined, "", /object/],
    ];
    for (const [body, field, message] of cases) {
      const answer = await post(path, body);
      expect(answer.status, String(body)).toBe(400);
      const error = answer.json.error as { code: string; message: string; details: { issues: Array<{ path: string; message: string }> } };
      expect(error.code, String(body)).toBe("validation");
      expect(error.details.issues[0]!.path, String(body)).toBe(field);
      expect(error.message, String(body)).toMatch(message);
      if (field) expect(error.message, String(body)).toContain(`${field}: `);
    }
    const badId = await post(rewardPath("a b", target.attemptId), '{"value": 1}');
    expect(badId.status).toBe(400);
    expect((badId.json.error as { message: string }).message).toMatch(/invalid rolloutId/);
    expect(await rewardSpans(target)).toEqual([]);
  });

  it("requires the bearer token when the server has one", async () => {
    const target = await claim();
    const path = rewardPath(target.rolloutId, target.attemptId);
    const variants: Array<Record<string, string>> = [{}, { authorization: "Bearer wrong" }, { authorization: TOKEN }];
    for (const headers of variants) {
      const answer = await post(path, '{"value": 1}', headers);
      expect(answer.status, JSON.stringify(headers)).toBe(401);
      expect(answer.json).toMatchObject({ error: { code: "unauthorized" } });
    }
    expect(await rewardSpans(target)).toEqual([]);
  });

  it("counts the route and the span it stored in /metrics", async () => {
    const target = await claim();
    const before = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const ingested = (text: string) => Number(/^tracetrain_spans_ingested_total (\d+)$/m.exec(text)![1]);
    await post(rewardPath(target.rolloutId, target.attemptId), '{"value": 1}');
    await post(rewardPath(target.rolloutId, target.attemptId), '{"value": "high"}');
    const after = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(after).toMatch(/tracetrain_http_requests_total\{route="\/v1\/rollouts\/:rolloutId\/attempts\/:attemptId\/rewards",method="POST",status="200"\} \d+/);
    expect(after).toMatch(/tracetrain_http_requests_total\{route="\/v1\/rollouts\/:rolloutId\/attempts\/:attemptId\/rewards",method="POST",status="400"\} \d+/);
    expect(ingested(after)).toBe(ingested(before) + 1);
  });
});
