/**
 * `tracetrain harness`, spawned from source like Agent Lightning's controller would start it: the
 * contract comes in environment variables, the LLM calls go through a stub of their gateway's
 * rollout proxy (forwarding to the deterministic mock LLM) and the reward is posted to the stub's
 * event route, which checks the bearer key and records what arrives. The stub answers as their
 * proxy does what it does not support (no Responses API, no streaming) and while it is paused.
 * The Python launcher for their local controller is run with python3 when it is installed.
 */
import { spawn, spawnSync } from "node:child_process";
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
  /** What the stub answered. */
  status: number;
}

/**
 * The two routes of Agent Lightning's gateway a harness touches: the rollout-scoped LLM proxy and
 * the event route. With a key, both require `Authorization: Bearer KEY`, like theirs; without one
 * (their default) anything goes.
 */
interface StubGateway {
  url: string;
  events: PostedEvent[];
  proxied: ProxiedCall[];
  /** Statuses the event route gives a rollout's next posts before it answers 200. */
  answers: Map<string, number[]>;
  /** How many of a rollout's next LLM calls get their "paused" answer: 429 with `Retry-After: 1`. */
  pauses: Map<string, number>;
  close(): Promise<void>;
}

async function startStubGateway(llm: MockLlm, key: string | undefined): Promise<StubGateway> {
  const events: PostedEvent[] = [];
  const proxied: ProxiedCall[] = [];
  const answers = new Map<string, number[]>();
  const pauses = new Map<string, number>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const path = req.url ?? "/";
    const authorization = req.headers.authorization;
    const authorized = key === undefined || authorization === `Bearer ${key}`;
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void =>
      void res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
    const event = /^\/api\/rollouts\/([^/]+)\/attempt\/([^/]+)\/events$/.exec(path);
    if (req.method === "POST" && event) {
      const rolloutId = decodeURIComponent(event[1]!);
      const status = authorized ? (answers.get(rolloutId)?.shift() ?? 200) : 401;
      events.push({ rolloutId, authorization, text, status });
      if (status === 200) return reply(200, { ok: true });
      return reply(status, { detail: status === 401 ? "invalid or missing API key" : "gateway restarting, try again" });
    }
    const proxy = /^\/proxy\/rollout\/([^/]+)\/attempt\/[^/]+\/mode\/(?:train|val)\/openai\/v1\/(.+)$/.exec(path);
    if (req.method === "POST" && proxy) {
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        proxied.push({ path, authorization, status });
        reply(status, body, headers);
      };
      if (!authorized) return answer(401, { detail: "invalid or missing API key" });
      // In the order their proxy checks: the path, the pause, then streaming.
      if (proxy[2] !== "chat/completions" && proxy[2] !== "completions") return answer(404, { detail: `Unsupported upstream path: ${proxy[2]}` });
      const paused = pauses.get(proxy[1]!) ?? 0;
      if (paused > 0) {
        pauses.set(proxy[1]!, paused - 1);
        return answer(429, { error: "gateway paused", reason: null }, { "retry-after": "1", "x-agl-paused": "true" });
      }
      if ((JSON.parse(text) as { stream?: unknown }).stream === true) return answer(400, { detail: "Streaming responses are not supported" });
      const upstream = await fetch(`${llm.url}/v1/${proxy[2]}`, { method: "POST", headers: { "content-type": "application/json" }, body: text });
      proxied.push({ path, authorization, status: upstream.status });
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
    pauses,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let llm: MockLlm;
let gateway: StubGateway;
/** Agent Lightning's default set-up: a server without a key. */
let keyless: StubGateway;
beforeAll(async () => {
  llm = await startMockLlm();
  gateway = await startStubGateway(llm, KEY);
  keyless = await startStubGateway(llm, undefined);
});
afterAll(async () => {
  await gateway.close();
  await keyless.close();
  await llm.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The variables Agent Lightning's controller sets for rollout `rolloutId` (AGL_KEY is "" when their server has no key). */
function contract(rolloutId: string, mode: "train" | "val" = "train", on: StubGateway = gateway): Record<string, string> {
  return {
    AGL_OPENAI_BASE_URL: `${on.url}/proxy/rollout/${rolloutId}/attempt/0/mode/${mode}/openai/v1`,
    AGL_EVENT_URL: `${on.url}/api/rollouts/${rolloutId}/attempt/0/events`,
    AGL_KEY: on === gateway ? KEY : "",
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

const eventsOf = (rolloutId: string, on: StubGateway = gateway) => on.events.filter((e) => e.rolloutId === rolloutId);
const llmCallsOf = (rolloutId: string, on: StubGateway = gateway) => on.proxied.filter((c) => c.path.includes(`/rollout/${rolloutId}/`));
const calc = ["--agent", agentModule, "--name", "calc", "--task-env", "question=QUESTION", "--task-env", "result=RESULT:json"];

describe("tracetrain harness", () => {
  it("runs the agent through the injected proxy with the injected key and posts its reward as a reward event", async () => {
    // The controller passes a number field JSON-encoded: result=RESULT:json makes it a number
    // again, under the dataset's field name (task.result, not task.RESULT).
    const [right, text] = await Promise.all([
      harness(calc, { ...contract("ro-calc"), QUESTION: "What is 6 times 7?", RESULT: "42" }),
      // Without :json a field is the variable's exact text: "42" stays a string, and the agent scores 0.
      harness(["--agent", agentModule, "--name", "calc", "--task-env", "question=QUESTION", "--task-env", "result=RESULT"], {
        ...contract("ro-string"),
        QUESTION: "What is 6 times 7?",
        RESULT: "42",
      }),
    ]);
    expect(right.stderr).toBe("");
    expect(right.code).toBe(0);
    expect(right.stdout).toBe(`reward 1 posted to ${contract("ro-calc").AGL_EVENT_URL}\n`);
    expect(eventsOf("ro-calc")).toEqual([{ rolloutId: "ro-calc", authorization: `Bearer ${KEY}`, text: '{"event_type":"reward","data":{"value":1}}', status: 200 }]);
    expect(llmCallsOf("ro-calc")).toEqual([{ path: "/proxy/rollout/ro-calc/attempt/0/mode/train/openai/v1/chat/completions", authorization: `Bearer ${KEY}`, status: 200 }]);
    const sent = llm.requests.find((r) => JSON.stringify(r.body).includes("What is 6 times 7? (expected: 42)"));
    expect(sent?.body).toMatchObject({ model: "auto", messages: [{ role: "user", content: "What is 6 times 7? (expected: 42)" }] });

    // A reward of 0 is a reward: posted, exit 0.
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(`reward 0 posted to ${contract("ro-string").AGL_EVENT_URL}\n`);
    expect(eventsOf("ro-string").map((e) => e.text)).toEqual(['{"event_type":"reward","data":{"value":0}}']);
  }, 120_000);

  it("treats the empty AGL_KEY of a keyless Agent Lightning server as no key", async () => {
    // Their controller sets AGL_KEY="" when the server has no key; as an apiKey "" makes openai-node
    // refuse to start ("Missing credentials"), so the resource must carry no key at all.
    const run = await harness(calc, { ...contract("ro-keyless", "train", keyless), QUESTION: "What is 6 times 7?", RESULT: "42" });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(llmCallsOf("ro-keyless", keyless)).toEqual([
      { path: "/proxy/rollout/ro-keyless/attempt/0/mode/train/openai/v1/chat/completions", authorization: "Bearer none", status: 200 },
    ]);
    expect(eventsOf("ro-keyless", keyless)).toEqual([{ rolloutId: "ro-keyless", authorization: undefined, text: '{"event_type":"reward","data":{"value":1}}', status: 200 }]);
  }, 120_000);

  it("holds the agent's call while the proxy is paused (429 with Retry-After), and passes the 429 on after --max-pause", async () => {
    // The agent's client does not retry at all: only the harness can carry its call through.
    gateway.pauses.set("ro-paused", 3);
    gateway.pauses.set("ro-gave-up", 1);
    const [held, gaveUp] = await Promise.all([
      harness(calc, { ...contract("ro-paused"), QUESTION: "What is 5 times 5?", RESULT: "25" }),
      harness([...calc, "--max-pause", "0"], { ...contract("ro-gave-up"), QUESTION: "What is 3 times 3?", RESULT: "9" }),
    ]);
    expect(held.code, held.stderr).toBe(0);
    expect(held.stdout).toBe(`reward 1 posted to ${contract("ro-paused").AGL_EVENT_URL}\n`);
    expect(llmCallsOf("ro-paused").map((c) => c.status)).toEqual([429, 429, 429, 200]);
    expect(llm.requests.filter((r) => JSON.stringify(r.body).includes("What is 5 times 5?"))).toHaveLength(1);
    expect(held.stderr).toBe("tracetrain: Agent Lightning's proxy is paused (429, Retry-After 1); holding the agent's calls for up to 1800 s each (--max-pause)\n");

    expect(gaveUp.code).toBe(1);
    expect(llmCallsOf("ro-gave-up").map((c) => c.status)).toEqual([429]);
    expect(gaveUp.stderr).toContain("Agent Lightning's proxy was still answering 429 after 0 s (--max-pause); the agent gets that answer");
    expect(gaveUp.stderr).toContain("agent 'calc' failed; no reward posted");
    expect(eventsOf("ro-gave-up")).toEqual([]);
  }, 120_000);

  it("says why Agent Lightning's proxy refused a call, and warns when the agent made no call through it", async () => {
    const [responses, streaming, none] = await Promise.all([
      harness(["--agent", agentModule, "--name", "responder"], contract("ro-responses")),
      harness(["--agent", agentModule, "--name", "streamer"], contract("ro-stream")),
      harness(["--agent", agentModule, "--name", "mode-probe"], contract("ro-no-call")),
    ]);
    expect(responses.code).toBe(1);
    expect(llmCallsOf("ro-responses").map((c) => c.status)).toEqual([404]);
    expect(responses.stderr).toContain("tracetrain: Agent Lightning's proxy has no Responses API (404 on /responses): use chat completions");
    expect(streaming.code).toBe(1);
    expect(llmCallsOf("ro-stream").map((c) => c.status)).toEqual([400]);
    expect(streaming.stderr).toContain("tracetrain: Agent Lightning's proxy rejects streaming (400 on stream: true)");
    // An agent that never used its LLM resource is scored but has nothing to train on: said, not failed.
    expect(none.code).toBe(0);
    expect(none.stderr).toContain("tracetrain: warning: agent 'mode-probe' made no LLM call through the base URL it was given");
    expect(eventsOf("ro-no-call")).toHaveLength(1);
  }, 120_000);

  it("takes the task from one JSON variable, the model from --model, the mode from the URL and extra resources from a file", async () => {
    const resources = join(dir, "resources.json");
    writeFileSync(resources, JSON.stringify({ scale: { kind: "json", value: 2 } }));
    const [whole, probe, emitted] = await Promise.all([
      harness(["--agent", agentModule, "--name", "calc", "--task-json-env", "TASK", "--model", "policy-7"], {
        ...contract("ro-json", "val"),
        TASK: JSON.stringify({ question: "What is 2 plus 2?", result: 4 }),
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
  }, 120_000);

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
      // What Agent Lightning's Kubernetes template filter yaml_escape makes of a boolean: Python's str().
      harness(calc, { ...contract("ro-bad"), ...task, RESULT: "True" }),
      harness(["--agent", agentModule, "--task-env", "question="], contract("ro-bad")),
      harness(["--agent", agentModule, "--task-env", "QUESTION", "--max-pause", "soon"], contract("ro-bad")),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2, 2, 2]);
    const [base, event, json, unset, resources, python, spec, pause] = results.map((r) => r.stderr);
    expect(base).toMatch(/^tracetrain: invalid environment: AGL_OPENAI_BASE_URL: not set/);
    expect(event).toMatch(/^tracetrain: invalid environment: AGL_EVENT_URL: not set/);
    expect(json).toMatch(/^tracetrain: invalid task: TASK: not JSON/);
    expect(unset).toMatch(/^tracetrain: invalid task: RESULT: environment variable not set \(named by --task-env\)/);
    expect(resources).toContain("judge.baseUrl: expected an http(s) URL");
    expect(python).toMatch(/^tracetrain: invalid task: RESULT: not JSON .*: True; this is Python text: .*TASK: \{\{ input \| tojson \| yaml_escape \}\} with --task-json-env TASK/);
    expect(spec).toMatch(/^tracetrain: invalid command line: --task-env: expected \[FIELD=\]VARIABLE\[:json\] .*got "question="/);
    expect(pause).toMatch(/^tracetrain: invalid command line: --max-pause: expected seconds \(a number ≥ 0\), got "soon"/);
    expect(eventsOf("ro-bad")).toEqual([]);
    expect(llmCallsOf("ro-bad")).toEqual([]);
  }, 120_000);

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
  }, 120_000);

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
  }, 120_000);
});

const pythonDir = fileURLToPath(new URL("../../python", import.meta.url));
const workerScript = fileURLToPath(new URL("./fixtures/agl_local_worker.py", import.meta.url));
const hasPython = spawnSync("python3", ["--version"]).status === 0;

/** Runs the launcher class as Agent Lightning's local controller does, in a process with exactly `env` (plus PATH). */
function underLocalController(classPath: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("python3", [workerScript, classPath], { env: { PATH: process.env.PATH ?? "", PYTHONPATH: pythonDir, PYTHONDONTWRITEBYTECODE: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe.runIf(hasPython)("python/tracetrain_harness.py under Agent Lightning's local controller", () => {
  // The harness from source, as a JSON array; in a project it is `npx --no tracetrain`.
  const command = JSON.stringify([process.execPath, "--import", "tsx", cliPath]);

  it("runs the harness with the controller's environment and ends with the harness's exit code", async () => {
    const [scored, failed, usage, unconfigured] = await Promise.all([
      // Arguments as shell-quoted text, the class named module:Class.
      underLocalController("tracetrain_harness:TracetrainHarness", {
        ...contract("ro-py"),
        QUESTION: "What is 7 times 8?",
        RESULT: "56",
        TRACETRAIN_HARNESS_COMMAND: command,
        TRACETRAIN_HARNESS_ARGS: `--agent '${agentModule}' --name calc --task-env question=QUESTION --task-env result=RESULT:json`,
      }),
      // Arguments as a JSON array, the class named module.Class.
      underLocalController("tracetrain_harness.TracetrainHarness", {
        ...contract("ro-py-failed"),
        TRACETRAIN_HARNESS_COMMAND: command,
        TRACETRAIN_HARNESS_ARGS: JSON.stringify(["--agent", agentModule, "--name", "failing"]),
      }),
      underLocalController("tracetrain_harness.TracetrainHarness", {
        ...contract("ro-py-usage"),
        TRACETRAIN_HARNESS_COMMAND: command,
        TRACETRAIN_HARNESS_ARGS: JSON.stringify(["--agent", agentModule, "--max-pause", "soon"]),
      }),
      // Empty, as an env_map entry for a missing value makes it: unset.
      underLocalController("tracetrain_harness.TracetrainHarness", { ...contract("ro-py-unconfigured"), TRACETRAIN_HARNESS_COMMAND: command, TRACETRAIN_HARNESS_ARGS: "" }),
    ]);
    // The contract and the task reached the harness: it called the rollout's proxy and posted the reward.
    expect(scored.code, scored.stderr).toBe(0);
    expect(scored.stdout).toBe(`reward 1 posted to ${contract("ro-py").AGL_EVENT_URL}\n`);
    expect(llmCallsOf("ro-py")).toEqual([{ path: "/proxy/rollout/ro-py/attempt/0/mode/train/openai/v1/chat/completions", authorization: `Bearer ${KEY}`, status: 200 }]);
    expect(eventsOf("ro-py").map((e) => e.text)).toEqual(['{"event_type":"reward","data":{"value":1}}']);
    // The harness's own exit codes come through: 1 (the agent failed), 2 (bad input) — not the
    // controller's 1-with-a-traceback for any exception.
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("agent 'failing' failed; no reward posted");
    expect(failed.stderr).not.toContain("Traceback");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--max-pause: expected seconds");
    expect(unconfigured.code).toBe(2);
    expect(unconfigured.stderr).toBe(
      'tracetrain_harness: TRACETRAIN_HARNESS_ARGS is not set: give the harness\'s arguments, say "--agent agent.ts --task-json-env TASK" (in env_map, or as the args of a subclass)\n',
    );
    expect(eventsOf("ro-py-failed")).toEqual([]);
  }, 120_000);

  it("runs npx --no tracetrain by default, and takes its arguments from a subclass too", () => {
    const argv = (code: string, env: Record<string, string>) => {
      const run = spawnSync("python3", ["-c", `import json, tracetrain_harness as t\n${code}`], { env: { PATH: process.env.PATH ?? "", PYTHONPATH: pythonDir, PYTHONDONTWRITEBYTECODE: "1", ...env }, encoding: "utf8" });
      expect(run.stderr).toBe("");
      return JSON.parse(run.stdout) as string[];
    };
    expect(argv("print(json.dumps(t.TracetrainHarness().argv()))", { TRACETRAIN_HARNESS_ARGS: "--agent 'my agent.ts' --task-json-env TASK" })).toEqual([
      "npx",
      "--no",
      "tracetrain",
      "harness",
      "--agent",
      "my agent.ts",
      "--task-json-env",
      "TASK",
    ]);
    const subclass = "class Calc(t.TracetrainHarness):\n    args = ['--agent', 'calc.ts']\nprint(json.dumps(Calc().argv()))";
    expect(argv(subclass, { TRACETRAIN_HARNESS_COMMAND: "" })).toEqual(["npx", "--no", "tracetrain", "harness", "--agent", "calc.ts"]);
    // A variable that is set wins over the class's attribute.
    expect(argv(subclass, { TRACETRAIN_HARNESS_ARGS: '["--agent", "other.ts"]' })).toEqual(["npx", "--no", "tracetrain", "harness", "--agent", "other.ts"]);
  }, 180_000);
});

describe("the package", () => {
  it("ships the launcher", () => {
    const root = fileURLToPath(new URL("../..", import.meta.url));
    const packed = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8" });
    expect(packed.status, packed.stderr).toBe(0);
    const [manifest] = JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>;
    expect(manifest!.files.map((f) => f.path)).toContain("python/tracetrain_harness.py");
  }, 180_000);
});
