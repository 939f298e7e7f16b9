/**
 * In-flight substitution at the gateway: an agent in another process (here: plain HTTP through the
 * openai SDK, uninstrumented) calls its rollout's gateway URL with its hard-coded prompts; the
 * gateway looks up the rollout's resources snapshot and forwards the candidate's texts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attr } from "tracetrain/instrumentations";
import { SUBSTITUTIONS_RESOURCE, type ResourcesMapInput } from "tracetrain/schemas";
import type { Scope } from "../../src/gateway/scope.js";
import { type Rig, callSpans, clientFor, startRig } from "./helpers.js";

const SYSTEM = "You answer questions about trains. Be short.";
const TOOL = "Looks up a train's departure time.";
const CANDIDATE = "You answer questions about trains. Give the departure time and the platform.";

let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
});
afterAll(async () => {
  await rig.close();
});

/** Enqueues and claims a rollout of a snapshot with `resources`; returns its scope. */
async function claimWith(resources: ResourcesMapInput): Promise<Scope> {
  const snapshot = await rig.store.addResources(resources);
  await rig.store.enqueue({ input: "task", mode: "train", resourcesId: snapshot.resourcesId });
  const [claimed] = await rig.store.dequeue({ workerId: "w" });
  return { rolloutId: claimed!.rollout.rolloutId, attemptId: claimed!.attempt.attemptId };
}

async function ask(scope: Scope, question: string): Promise<Record<string, unknown>> {
  await clientFor(rig.gateway, scope).chat.completions.create({
    model: "m",
    messages: [
      { role: "system", content: SYSTEM },
      { role: "user", content: question },
    ],
    tools: [{ type: "function", function: { name: "departure", description: TOOL, parameters: { type: "object", properties: {} } } }],
  });
  const request = rig.upstream.requests.find((r) => JSON.stringify(r.body).includes(question));
  expect(request).toBeDefined();
  return request!.body as Record<string, unknown>;
}

const systemOf = (body: Record<string, unknown>) => (body.messages as Array<{ role: string; content: string }>).find((m) => m.role === "system")?.content;
const toolOf = (body: Record<string, unknown>) => (body.tools as Array<{ function: { description: string } }>)[0]!.function.description;

const substitutions = [{ component: "system", seed: SYSTEM, text: CANDIDATE, engine: "mustache" as const }];

describe("gateway in-flight substitution", () => {
  it("forwards the candidate's text in place of the seed's for a rollout of a candidate snapshot, and records it on the call's span", async () => {
    const scope = await claimWith({ system: { kind: "prompt_template", template: CANDIDATE }, [SUBSTITUTIONS_RESOURCE]: { kind: "json", value: substitutions } });
    const body = await ask(scope, "When does the 9:15 leave?");
    expect(systemOf(body)).toBe(CANDIDATE);
    expect(toolOf(body)).toBe(TOOL);
    const [span] = await callSpans(rig, scope);
    expect(span!.attributes[Attr.substituted]).toEqual(["system"]);
    expect(JSON.stringify(span!.attributes[Attr.inputMessages] ?? span!.attributes[Attr.systemInstructions])).toContain("the platform");
  });

  it("forwards the request unchanged for a rollout of a snapshot without substitutions", async () => {
    const scope = await claimWith({ system: { kind: "prompt_template", template: SYSTEM } });
    expect(systemOf(await ask(scope, "And the 10:40?"))).toBe(SYSTEM);
    const [span] = await callSpans(rig, scope);
    expect(span!.attributes[Attr.substituted]).toBeUndefined();
  });

  it("gives concurrent rollouts of different snapshots their own texts", async () => {
    const other = "You are a train timetable. Reply with a time only.";
    const [a, b] = await Promise.all([
      claimWith({ [SUBSTITUTIONS_RESOURCE]: { kind: "json", value: substitutions } }),
      claimWith({ [SUBSTITUTIONS_RESOURCE]: { kind: "json", value: [{ ...substitutions[0]!, text: other }, { component: "tool", seed: TOOL, text: "Departure times by train number." }] } }),
    ]);
    const [bodyA, bodyB] = await Promise.all([ask(a, "Train A?"), ask(b, "Train B?")]);
    expect([systemOf(bodyA), toolOf(bodyA)]).toEqual([CANDIDATE, TOOL]);
    expect([systemOf(bodyB), toolOf(bodyB)]).toEqual([other, "Departure times by train number."]);
  });

  it("answers 503 naming the resource when a rollout's substitutions are malformed", async () => {
    const scope = await claimWith({ [SUBSTITUTIONS_RESOURCE]: { kind: "json", value: [{ component: "system", text: "no seed" }] } });
    const response = await fetch(`${rig.gateway.baseUrlFor(scope)}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(503);
    const error = ((await response.json()) as { error: { message: string } }).error;
    expect(error.message).toMatch(/tracetrain\.substitutions.*seed/);
  });
});
