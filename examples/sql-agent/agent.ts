/**
 * The SQL agent: a LangGraph graph of three agents — writer (drafts the query from the question and
 * the schema), checker (runs it read-only and gives a verdict with a critique), rewriter (fixes it
 * from the critique) — with at most `maxRewrites` rewrites. Each node's LLM call is recorded under
 * the node's name, so the trainer can optimize the writer alone.
 *
 * The reward: `execution` (the verifier ran the final query: 1 when its result set is the gold
 * one) is the outcome; `checker_verdict` (1 when the checker's last verdict was "correct") and
 * `self_check` (1 when that verdict agrees with the verifier) are recorded beside it.
 */
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { ChatOpenAI } from "@langchain/openai";
import { agent, emitReward, operation } from "tracetrain";
import { type GoldAnswer, type SqlTask, verify } from "./eval-set.js";
import { AGENTS, checkerMessage, extractSql, parseReview, rewriterMessage, STRATEGIES, STRATEGY_PROMPT, type Verdict, writerMessage } from "./prompts.js";
import { describeResult, type QueryResult, type SqlRunner } from "./sql.js";

export interface SqlAgentOptions {
  /** Gold answers by task id, for the verifier. */
  gold: ReadonlyMap<string, GoldAnswer>;
  sql: SqlRunner;
  /** The schema text the writer is shown. */
  schema: string;
  /** Rewrites after the first draft at most. @default 2 */
  maxRewrites?: number;
}

const State = Annotation.Root({
  question: Annotation<string>(),
  sql: Annotation<string>(),
  result: Annotation<QueryResult | undefined>(),
  verdict: Annotation<Verdict | undefined>(),
  critique: Annotation<string>(),
  rewrites: Annotation<number>(),
});

export function makeSqlAgent(options: SqlAgentOptions) {
  const maxRewrites = options.maxRewrites ?? 2;
  return agent(
    async (task: SqlTask, ctx) => {
      const gold = options.gold.get(task.id);
      if (gold === undefined) throw new Error(`no gold answer for task '${task.id}'`);
      const llm = ctx.llm("main");
      const model = new ChatOpenAI({ model: llm.model, apiKey: llm.apiKey ?? process.env.OPENAI_API_KEY ?? "none", configuration: { baseURL: llm.baseUrl } });
      // Each agent reads its own prompt from the resources, so an optimizer can change one and not the others.
      const prompt = Object.fromEntries(AGENTS.map((name) => [name, ctx.prompt(name).format({})])) as Record<(typeof AGENTS)[number], string>;
      // With a `writer_policy` LLM (RL), the writer chooses a strategy first; greedy outside training.
      const policyLlm = ctx.resources.writer_policy?.kind === "llm" ? ctx.llm("writer_policy") : undefined;
      const policy = policyLlm && new ChatOpenAI({ model: policyLlm.model, apiKey: policyLlm.apiKey ?? "none", temperature: ctx.rollout.mode === "train" ? 1 : 0, configuration: { baseURL: policyLlm.baseUrl } });
      const strategyHint = async (question: string) => (policy === undefined ? "" : (STRATEGIES[String((await policy.invoke([{ role: "system", content: STRATEGY_PROMPT }, { role: "user", content: question }], { signal: ctx.signal })).content).trim()] ?? ""));
      const ask = async (system: string, user: string) =>
        String(
          (
            await model.invoke(
              [
                { role: "system", content: system },
                { role: "user", content: user },
              ],
              { signal: ctx.signal },
            )
          ).content,
        );

      const graph = new StateGraph(State)
        .addNode("writer", async (s) => {
          const hint = await strategyHint(s.question);
          return { sql: extractSql(await ask(hint === "" ? prompt.writer : `${prompt.writer}\n${hint}`, writerMessage(s.question, options.schema))), rewrites: 0 };
        })
        .addNode("checker", async (s) => {
          const result = await operation("run_sql", () => options.sql.run(s.sql), { input: { sql: s.sql } });
          const review = parseReview(await ask(prompt.checker, checkerMessage(s.question, s.sql, describeResult(result))));
          return { result, verdict: review.verdict, critique: review.critique };
        })
        .addNode("rewriter", async (s) => ({ sql: extractSql(await ask(prompt.rewriter, rewriterMessage(s.question, s.sql, s.critique))), rewrites: s.rewrites + 1 }))
        .addEdge(START, "writer")
        .addEdge("writer", "checker")
        .addConditionalEdges("checker", (s) => (s.verdict === "wrong" && s.rewrites < maxRewrites ? "rewriter" : END), ["rewriter", END])
        .addEdge("rewriter", "checker")
        .compile();

      const final = await graph.invoke({ question: task.question }, { signal: ctx.signal, recursionLimit: 4 + 2 * maxRewrites });
      const verification = verify(final.result ?? { ok: false, error: "the query was never run" }, gold);
      const saidCorrect = final.verdict === "correct";
      emitReward(
        { execution: verification.correct ? 1 : 0, checker_verdict: saidCorrect ? 1 : 0, self_check: saidCorrect === verification.correct ? 1 : 0 },
        { primary: "execution", feedback: `${verification.detail}; the checker said ${final.verdict ?? "nothing"}` },
      );
    },
    { name: "sql-agent" },
  );
}
