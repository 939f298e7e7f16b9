/**
 * The simulated models: the writer's competence (with no lapse it writes queries that return the
 * gold results), what its prompt changes, the checker's imperfection, and the optimizer's edits.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Reply, ResponderRequest } from "tracetrain/testing";
import { type EvalItem, type GoldAnswer, goldAnswers, loadEvalItems, split, verify } from "../eval-set.js";
import { checkerMessage, extractSql, parseReview, SEED_PROMPTS, writerMessage } from "../prompts.js";
import { sqlModels } from "../simulation/models.js";
import { RULES, rulesStated } from "../simulation/rules.js";
import { readQuestion, writeSql } from "../simulation/sql-model.js";
import { SqlRunner } from "../sql.js";

const ALL_RULES = `${SEED_PROMPTS.writer}\n${RULES.map((r) => r.sentence).join("\n")}`;

function ask(responder: ReturnType<typeof sqlModels>, system: string, user: string): string {
  const body = { model: "m", messages: [{ role: "system", content: system }, { role: "user", content: user }] };
  const reply = responder({ path: "/v1/chat/completions", body, index: 0, lastUserText: user } satisfies ResponderRequest) as Reply;
  assert.ok("text" in reply && typeof reply.text === "string");
  return reply.text;
}

describe("the simulated SQL models", () => {
  const sql = new SqlRunner();
  let items: EvalItem[];
  let gold: Map<string, GoldAnswer>;
  before(async () => {
    items = loadEvalItems();
    gold = await goldAnswers(items, sql);
  });
  after(() => sql.close());

  it("read every question of the set, and without lapses or slips write queries with the gold result", async () => {
    for (const item of items) {
      const spec = readQuestion(item.question);
      assert.ok(spec, `cannot read: ${item.question}`);
      const result = await sql.run(writeSql(spec, { lapses: new Set(), fuzzyNames: false }));
      assert.equal(verify(result, gold.get(item.id)!).correct, true, item.question);
    }
  });

  it("cover every question shape in each split", () => {
    for (const part of ["train", "val", "test"] as const) {
      const shapes = new Set(split(items, part).map((t) => readQuestion(t.question)!.shape));
      assert.equal(shapes.size, 10, part);
    }
  });

  it("write better queries when the writer's prompt states the rules, and never a lookup: the same question with another name works alike", async () => {
    const model = sqlModels(0);
    const score = async (system: string) => {
      let right = 0;
      for (const item of items) {
        const reply = ask(model, system, writerMessage(item.question, "(schema)"));
        if (verify(await sql.run(extractSql(reply)), gold.get(item.id)!).correct) right++;
      }
      return right;
    };
    const seed = await score(SEED_PROMPTS.writer);
    const guided = await score(ALL_RULES);
    assert.ok(seed < items.length / 2, `seed prompt: ${seed}`);
    assert.ok(guided > seed + 10 && guided < items.length, `guided prompt: ${guided} (seed ${seed}); some slips remain`);
    const unseen = extractSql(ask(model, ALL_RULES, writerMessage("How many different customers have bought Reggae tracks?", "(schema)")));
    assert.match(unseen, /COUNT\(DISTINCT i\.(?:CustomerId|InvoiceId)\).*'Reggae'/);
  });

  it("answer the same request the same way, whatever came before", () => {
    const user = writerMessage(items[0]!.question, "(schema)");
    const first = ask(sqlModels(3), SEED_PROMPTS.writer, user);
    const other = sqlModels(3);
    for (const item of items.slice(1)) ask(other, SEED_PROMPTS.writer, writerMessage(item.question, "(schema)"));
    assert.equal(ask(other, SEED_PROMPTS.writer, user), first);
  });

  it("have a checker that always flags a failing query, and misses what a query's text does not show", async () => {
    const model = sqlModels(0);
    const failing = parseReview(ask(model, SEED_PROMPTS.checker, checkerMessage("How many different customers have bought Rock tracks?", "SELECT 1", "ERROR: no such column: \"Rock\" - should this be a string literal in single-quotes?")));
    assert.deepEqual(failing, { verdict: "wrong", critique: RULES.find((r) => r.id === "quote")!.sentence });
    // A query that runs but reads the question another way (purchases, not customers): nothing in its text says so.
    const misread = "SELECT COUNT(DISTINCT i.InvoiceId) FROM Invoice i JOIN InvoiceLine il ON il.InvoiceId = i.InvoiceId JOIN Track t ON t.TrackId = il.TrackId JOIN Genre g ON g.GenreId = t.GenreId WHERE g.Name = 'Rock'";
    const verdicts = new Set<string>();
    for (const genre of ["Rock", "Jazz", "Metal", "Blues", "Latin", "Pop", "Reggae", "Soundtrack"]) {
      const question = `How many different customers have bought ${genre} tracks?`;
      verdicts.add(parseReview(ask(model, SEED_PROMPTS.checker, checkerMessage(question, misread.replace("Rock", genre), "1 row(s); columns: n\n[100]"))).verdict);
    }
    assert.ok(verdicts.has("correct"), "the checker passes some of these wrong queries");
  });

  it("have an optimizer whose edit adds only the guidance its critique states", () => {
    const model = sqlModels(0);
    const run = (question: string, query: string) => `### Run 1: reward 0\nFeedback: expected 1 row(s) [59], got 1 row(s) [2240]\nTask: ${JSON.stringify({ id: "x", question })}\nConversation:\n[system] ${SEED_PROMPTS.writer}\n[user] ${writerMessage(question, "(schema)")}\n[assistant] \`\`\`sql\n${query}\n\`\`\``;
    const instruction = `Current template:\n"""\n${SEED_PROMPTS.writer}\n"""\n\n${run("How many different customers have bought Rock tracks?", "SELECT COUNT(i.CustomerId) FROM Invoice i WHERE x = 'Rock'")}\n\nReturn the complete new template between <template> and </template>.`;
    const revised = /<template>\n([\s\S]*)\n<\/template>/.exec(ask(model, "", instruction))?.[1];
    assert.ok(revised);
    assert.ok(revised.startsWith(SEED_PROMPTS.writer));
    assert.deepEqual([...rulesStated(revised)], ["distinct"]);
  });
});
