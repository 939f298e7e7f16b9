/**
 * A run whose rollouts fail says why: the model endpoint is checked before the first rollout, the
 * first failure of each kind is logged with a hint, and every task's result carries its error.
 */
import { type Socket, createServer } from "node:net";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { Trainer, TracetrainError, agent, type AgentContext, type Logger } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { startMockLlm } from "tracetrain/testing";
import { freePort } from "../support/processes.js";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (message: string) => void lines.push(message);
  return { lines, debug() {}, info() {}, warn: keep, error: keep };
}

type Task = { question: string; answer: string };
const questions: Task[] = [
  { question: "What is the capital of France?", answer: "Paris" },
  { question: "What is 2 + 2?", answer: "4" },
];

/** The README's first example (also in docs/evaluate.md), its client pointed where `baseURL` says (as OPENAI_BASE_URL would). */
function quizFor(baseURL: string, apiKey = "none") {
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  return agent(
    async (task: Task, ctx: AgentContext) => {
      const completion = await client.chat.completions.create({
        model: ctx.llm().model,
        messages: [
          { role: "system", content: ctx.prompt().format({}) },
          { role: "user", content: task.question },
        ],
      });
      return completion.choices[0]?.message.content?.includes(task.answer) ? 1 : 0;
    },
    { name: "quiz" },
  );
}

function trainerFor(baseUrl: string, logger: Logger, extra: { checkEndpoints?: boolean | { timeoutMs: number } } = {}) {
  const store = new MemoryStore();
  const trainer = new Trainer({
    store,
    runners: 4,
    progress: false,
    logger,
    ...extra,
    initialResources: {
      system: { kind: "prompt_template", template: "Answer in one word." },
      main: { kind: "llm", baseUrl, model: "gpt-4.1-mini" },
    },
  });
  closers.push(async () => {
    await trainer.close();
    await store.close();
  });
  return { trainer, store };
}

/** A base URL where nothing listens. */
async function deadEndpoint(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/v1`;
}

describe("why rollouts fail", () => {
  it("checks the model endpoint before the first rollout and fails at once, naming the resource and its URL", async () => {
    const baseUrl = await deadEndpoint();
    const { trainer, store } = trainerFor(baseUrl, recordingLogger());
    const failure = await trainer.evaluate(quizFor(baseUrl), questions).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TracetrainError);
    expect(failure).toMatchObject({ code: "unavailable" });
    const message = (failure as Error).message;
    expect(message).toContain(`the LLM endpoint of resource 'main' (${baseUrl}) cannot be reached: GET ${baseUrl}/models failed: TypeError: fetch failed ← `);
    expect(message).toMatch(/ECONNREFUSED/);
    expect(message).toMatch(/No rollout was started\..*OPENAI_BASE_URL.*checkEndpoints: false/);
    expect((failure as TracetrainError).details).toEqual({ endpoints: [{ resource: "main", url: baseUrl, reason: expect.stringMatching(/^GET .* failed: /) }] });
    expect((await store.stats()).rollouts.total).toBe(0);
  });

  it("gives an endpoint that accepts but never answers the timeout it was given", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    closers.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const baseUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}/v1`;
    const { trainer } = trainerFor(baseUrl, recordingLogger(), { checkEndpoints: { timeoutMs: 300 } });
    await expect(trainer.evaluate(quizFor(baseUrl), questions)).rejects.toThrow(`the LLM endpoint of resource 'main' (${baseUrl}) cannot be reached: GET ${baseUrl}/models got no answer within 300 ms`);
  });

  it("passes the check for a live endpoint, whatever status it answers", async () => {
    // The mock answers /models; a 401 or a 404 would count as reachable as well.
    const llm = await startMockLlm({ responder: () => ({ text: "Paris, 4" }) });
    closers.push(() => llm.close());
    const { trainer } = trainerFor(llm.baseUrl, recordingLogger());
    const result = await trainer.evaluate(quizFor(llm.baseUrl), questions);
    expect(result).toMatchObject({ succeeded: 2, meanReward: 1 });
    expect(result.tasks.map((t) => t.error)).toEqual([null, null]);
  });

  it("with the check skipped, logs the first failure of a kind once, with a hint, and puts each task's error in its result", async () => {
    const baseUrl = await deadEndpoint();
    const logger = recordingLogger();
    const { trainer } = trainerFor(baseUrl, logger, { checkEndpoints: false });
    const result = await trainer.evaluate(quizFor(baseUrl), questions);
    expect(result).toMatchObject({ meanReward: null, succeeded: 0, failed: 2 });
    for (const task of result.tasks) {
      expect(task.status).toBe("failed");
      expect(task.error?.kind).toBe("agent_error");
      expect(task.error?.message).toMatch(/^APIConnectionError: Connection error\. ← TypeError: fetch failed ← .*ECONNREFUSED.*\n {4}at /);
    }
    const failures = logger.lines.filter((line) => line.includes("failed (agent_error)"));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/^rollout ro-\S+ failed \(agent_error\): APIConnectionError: Connection error\. ← TypeError: fetch failed ← .*ECONNREFUSED/);
    expect(failures[0]).toContain(`hint: the agent could not reach its model endpoint (its llm resources: 'main' at ${baseUrl}). If it builds its client from the environment, set OPENAI_BASE_URL (and OPENAI_API_KEY)`);
    expect(failures[0]).toMatch(/first failure of this kind; .*tasks\[\]\.error/);
    // The missing calls are explained by the failure, not by guesses about instrumentation.
    expect(logger.lines.join("\n")).not.toMatch(/Likely reasons/);
  });

  it("tells credentials refused apart from an endpoint not reached", async () => {
    const llm = await startMockLlm({ responder: () => ({ error: { status: 401, message: "Incorrect API key provided" } }) });
    closers.push(() => llm.close());
    const logger = recordingLogger();
    const { trainer } = trainerFor(llm.baseUrl, logger);
    const result = await trainer.evaluate(quizFor(llm.baseUrl, "wrong"), questions);
    expect(result.tasks.map((t) => t.error?.message.split("\n")[0])).toEqual(Array(2).fill("AuthenticationError: 401 Incorrect API key provided"));
    const failures = logger.lines.filter((line) => line.includes("failed (agent_error)"));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain(`hint: the model endpoint was given no key or refused it (its llm resources: 'main' at ${llm.baseUrl}): set OPENAI_API_KEY, or the llm resource's apiKey`);
  });
});
