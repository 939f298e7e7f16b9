/**
 * `tracetrain harness`, spawned from source like Agent Lightning's controller would start it: the
 * contract comes in environment variables, the LLM calls go through a stub of their gateway's
 * rollout proxy (forwarding to the deterministic mock LLM) and the reward is posted to the stub's
 * event route, which checks the bearer key and records what arrives.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MockLlm, startMockLlm } from "tracetrain/testing";
import { cliPath, freePort } from "../support/processes.js";

const agentModule = fileURLToPath(new URL("./fixtures/harness-agent.ts", import.meta.url));
const KEY = "agl-secret";
const dir = mkdtempSync(join(tmpdir(), "tracetrain-harness-"));

interface PostedEvent {
  rolloutId: string;
  authorization: string | undefined;
  /** The raw request body, to check the exact wire format. */
  text: string;
  /** What the stub answered. */
  status: number;
}

interface ProxiedCall {
  path: string;
  authorization: string | undefined;
}

/**
 * The two routes of Agent Lightning's gateway a harness touches: the rollout-scoped LLM proxy and
 * the event route. Both require `Authorization: Bearer KEY`, like theirs with a key configured.
 */
interface StubGateway {
  url: string;
  events: PostedEvent[];
  proxied: ProxiedCall[];
  /** Statuses the event route gives a rollout's next posts before it answers 200. */
  answers: Map<string, number[]>;
  close(): Promise<void>;
}

async function startStubGateway(llm: MockLlm): Promise<StubGateway> {
  const events: PostedEvent[] = [];
  const proxied: ProxiedCall[] = [];
  const answers = new Map<string, number[]>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const path = req.url ?? "/";
    const authorization = req.headers.authorization;
    const reply = (status: number, body: unknown): void => void res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    const event = /^\/api\/rollouts\/([^/]+)\/attempt\/([^/]+)\/events$/.exec(path);
    if (req.method === "POST" && event) {
      const rolloutId = decodeURIComponent(event[1]!);
      const status = authorization === `Bearer ${KEY}` ? (answers.get(rolloutId)?.shift() ?? 200) : 401;
      events.push({ rolloutId, authorization, text, status });
      if (status === 200) return reply(200, { ok: true });
      return reply(status, { detail: status === 401 ? "invalid or missing API key" : "gateway restarting, try again" });
    }
    const proxy = /^\/proxy\/rollout\/[^/]+\/attempt\/[^/]+\/mode\/(?:train|val)\/openai(\/v1\/.+)$/.exec(path);
    if (req.method === "POST" && proxy) {
      proxied.push({ path, authorization });
      if (authorization !== `Bearer ${KEY}`) return reply(401, { detail: "invalid or missing API key" });
      const upstream = await fetch(`${llm.url}${proxy[1]!}`, { method: "POST", headers: { "content-type": "application/json", authorization }, body: text });
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" }).end(await upstream.text());
      return;
    }
    reply(404, { detail: "not found" });
  };
  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    events,
    proxied,
    answers,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let llm: MockLlm;
let gateway: StubGateway;
beforeAll(async () => {
  llm = await startMockLlm();
  gateway = await startStubGateway(llm);
});
afterAll(async () => {
  await gateway.close();
  await llm.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The variables Agent Lightning's controller sets for rollout `rolloutId`. */
function contract(rolloutId: string, mode: "train" | "val" = "train"): Record<string, string> {
  return {
    AGL_OPENAI_BASE_URL: `${gateway.url}/proxy/rollout/${rolloutId}/attempt/0/mode/${mode}/openai/v1`,
    AGL_EVENT_URL: `${gateway.url}/api/rollouts/${rolloutId}/attempt/0/events`,
    AGL_KEY: KEY,
  };
}

/** Runs `tracetrain harness ARGS` with exactly `env` (plus PATH) as its environment. */
function harness(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", cliPath, "harness", ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const eventsOf = (rolloutId: string) => gateway.events.filter((e) => e.rolloutId === rolloutId);
const llmCallsOf = (rolloutId: string) => gateway.proxied.filter((c) => c.path.includes(`/rollout/${rolloutId}/`));
const calc = ["--agent", agentModule, "--name", "calc", "--task-env", "QUESTION", "--task-env", "RESULT"];

describe("tracetrain harness", () => {
  it("runs the agent through the injected proxy with the injected key and posts its reward as a reward event", async () => {
    // RESULT is JSON-encoded by the controller (a number field); QUESTION is a plain string.
    const [right, typed] = await Promise.all([
      harness(calc, { ...contract("ro-calc"), QUESTION: "What is 6 times 7?", RESULT: "42" }),
      // A string field whose value is JSON text ("42" in quotes) stays a string: the agent scores 0.
      harness(calc, { ...contract("ro-string"), QUESTION: "What is 6 times 7?", RESULT: '"42"' }),
    ]);
    expect(right.stderr).toBe("");
    expect(right.code).toBe(0);
    expect(right.stdout).toBe(`reward 1 posted to ${contract("ro-calc").AGL_EVENT_URL}\n`);
    expect(eventsOf("ro-calc")).toEqual([{ rolloutId: "ro-calc", authorization: `Bearer ${KEY}`, text: '{"event_type":"reward","data":{"value":1}}', status: 200 }]);
    expect(llmCallsOf("ro-calc")).toEqual([{ path: "/proxy/rollout/ro-calc/attempt/0/mode/train/openai/v1/chat/completions", authorization: `Bearer ${KEY}` }]);
    const sent = llm.requests.find((r) => JSON.stringify(r.body).includes("What is 6 times 7? (expected: 42)"));
    expect(sent?.body).toMatchObject({ model: "auto", messages: [{ role: "user", content: "What is 6 times 7? (expected: 42)" }] });

    // A reward of 0 is a reward: posted, exit 0.
    expect(typed.code).toBe(0);
    expect(typed.stdout).toBe(`reward 0 posted to ${contract("ro-string").AGL_EVENT_URL}\n`);
    expect(eventsOf("ro-string").map((e) => e.text)).toEqual(['{"event_type":"reward","data":{"value":0}}']);
  }, 60_000);

  it("takes the task from one JSON variable, the model from --model, the mode from the URL and extra resources from a file", async () => {
    const resources = join(dir, "resources.json");
    writeFileSync(resources, JSON.stringify({ scale: { kind: "json", value: 2 } }));
    const [whole, probe, emitted] = await Promise.all([
      harness(["--agent", agentModule, "--name", "calc", "--task-json-env", "TASK", "--model", "policy-7"], {
        ...contract("ro-json", "val"),
        TASK: JSON.stringify({ QUESTION: "What is 2 plus 2?", RESULT: 4 }),
      }),
      harness(["--agent", agentModule, "--name", "mode-probe"], contract("ro-mode", "val")),
      harness(["--agent", agentModule, "--name", "emitter", "--resources", resources], contract("ro-emit")),
    ]);
    expect(whole.code).toBe(0);
    expect(eventsOf("ro-json").map((e) => e.text)).toEqual(['{"event_type":"reward","data":{"value":1}}']);
    expect(llmCallsOf("ro-json").map((c) => c.path)).toEqual(["/proxy/rollout/ro-json/attempt/0/mode/val/openai/v1/chat/completions"]);
    expect(llm.requests.find((r) => JSON.stringify(r.body).includes("What is 2 plus 2?"))?.body).toMatchObject({ model: "policy-7" });
    // The agent saw mode "val" (it returns 1 only then).
    expect(probe.code).toBe(0);
    expect(eventsOf("ro-mode").map((e) => e.text)).toEqual(['{"event_type":"reward","data":{"value":1}}']);
    // An emitted (not returned) reward, scaled by the JSON resource from the file: 0.25 × 2.
    expect(emitted.code).toBe(0);
    expect(emitted.stdout).toBe(`reward 0.5 posted to ${contract("ro-emit").AGL_EVENT_URL}\n`);
    expect(eventsOf("ro-emit").map((e) => e.text)).toEqual(['{"event_type":"reward","data":{"value":0.5}}']);
  }, 60_000);

  it("rejects a missing contract variable, a bad task and bad resources with exit 2, naming what is wrong", async () => {
    const badResources = join(dir, "bad-resources.json");
    writeFileSync(badResources, JSON.stringify({ judge: { kind: "llm", baseUrl: "judge-host:8000", model: "j" } }));
    const { AGL_OPENAI_BASE_URL: _base, ...noBase } = contract("ro-bad");
    const { AGL_EVENT_URL: _event, ...noEvent } = contract("ro-bad");
    const task = { QUESTION: "q", RESULT: "1" };
    const results = await Promise.all([
      harness(calc, { ...noBase, ...task }),
      harness(calc, { ...noEvent, ...task }),
      harness(["--agent", agentModule, "--name", "calc", "--task-json-env", "TASK"], { ...contract("ro-bad"), TASK: "{QUESTION: q}" }),
      harness(calc, { ...contract("ro-bad"), QUESTION: "q" }),
      harness(["--agent", agentModule, "--name", "emitter", "--resources", badResources], contract("ro-bad")),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2, 2]);
    const [base, event, json, unset, resources] = results.map((r) => r.stderr);
    expect(base).toMatch(/^tracetrain: invalid environment: AGL_OPENAI_BASE_URL: not set/);
    expect(event).toMatch(/^tracetrain: invalid environment: AGL_EVENT_URL: not set/);
    expect(json).toMatch(/^tracetrain: invalid task: TASK: not JSON/);
    expect(unset).toMatch(/^tracetrain: invalid task: RESULT: environment variable not set \(named by --task-env\)/);
    expect(resources).toContain("judge.baseUrl: expected an http(s) URL");
    expect(eventsOf("ro-bad")).toEqual([]);
    expect(llmCallsOf("ro-bad")).toEqual([]);
  }, 60_000);

  it("posts nothing and exits 1 when the agent throws or gives no reward", async () => {
    const [failing, silent] = await Promise.all([
      harness(["--agent", agentModule, "--name", "failing"], contract("ro-throws")),
      harness(["--agent", agentModule, "--name", "silent"], contract("ro-silent")),
    ]);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toBe("");
    expect(failing.stderr).toContain("agent 'failing' failed; no reward posted");
    expect(failing.stderr).toContain("Error: the calculator tool crashed");
    // It had emitted a reward before throwing: still nothing is posted for a failed rollout.
    expect(eventsOf("ro-throws")).toEqual([]);
    expect(silent.code).toBe(1);
    expect(silent.stderr).toContain("agent 'silent' finished without a reward");
    expect(eventsOf("ro-silent")).toEqual([]);
  }, 60_000);

  it("retries a post the gateway answered 5xx, not one it refused, and fails when the gateway cannot be reached", async () => {
    gateway.answers.set("ro-retry", [500]);
    gateway.answers.set("ro-401", [401]);
    gateway.answers.set("ro-down", [503, 503, 503]);
    const closedPort = await freePort();
    const [retried, refused, down, unreachable] = await Promise.all([
      harness(["--agent", agentModule, "--name", "mode-probe"], contract("ro-retry")),
      harness(["--agent", agentModule, "--name", "mode-probe"], contract("ro-401")),
      harness(["--agent", agentModule, "--name", "mode-probe"], contract("ro-down")),
      harness(["--agent", agentModule, "--name", "mode-probe"], { ...contract("ro-unreachable"), AGL_EVENT_URL: `http://127.0.0.1:${closedPort}/api/rollouts/ro-unreachable/attempt/0/events` }),
    ]);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toBe(`reward 0 posted to ${contract("ro-retry").AGL_EVENT_URL}\n`);
    expect(eventsOf("ro-retry").map((e) => [e.status, e.text])).toEqual([
      [500, '{"event_type":"reward","data":{"value":0}}'],
      [200, '{"event_type":"reward","data":{"value":0}}'],
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain("it answered 401: {\"detail\":\"invalid or missing API key\"}");
    expect(eventsOf("ro-401")).toHaveLength(1);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("failed after 3 attempts: it answered 503: {\"detail\":\"gateway restarting, try again\"}");
    expect(eventsOf("ro-down")).toHaveLength(3);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/failed after 3 attempts: could not reach it: fetch failed: .*ECONNREFUSED/);
  }, 60_000);
});
