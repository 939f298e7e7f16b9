/**
 * The simulated models behind one OpenAI-compatible endpoint (tracetrain/testing's mock LLM):
 *
 * - **writer**: reads the question (one of ten shapes, any values) and writes its query. For each
 *   habit of `rules.ts` its system prompt does not state, it lapses with the rule's probability
 *   (drawn per seed, rule and question). Two slips no guidance fixes: one question in eight it
 *   matches names with LIKE, and about one in seven it reads the question another way.
 * - **checker**: reads the question, the query and its result. A failed query is always "wrong",
 *   with the fix the error points to; a lapse that shows in the query's text is noticed with the
 *   rule's probability; nothing noticed → "correct", but one time in ten a false alarm. It never
 *   sees the gold answer, so it misses what the text does not show (the slips).
 * - **rewriter**: rewrites the query keeping what the draft got right and following the habits the
 *   critique states; other lapses stay.
 * - **optimizer** (APO's critiques and edits, GEPA's reflections): reads the failed runs, finds
 *   the habits their queries broke that the template does not state, and appends the guidance.
 *
 * Every draw is a hash of the seed and the request's content, so the figures do not depend on the
 * order in which concurrent requests arrive.
 */
import { createHash } from "node:crypto";
import { type Reply, type Responder, requestMessages, stableHash } from "tracetrain/testing";
import { extractSql, MARK } from "../prompts.js";
import { type RuleId, RULES, rule, ruleForError, rulesBroken, rulesStated } from "./rules.js";
import { readQuestion, rulesFollowed, writeSql } from "./sql-model.js";

const FUZZY_NAMES = 0.125;
const MISREAD = 0.15;
const FALSE_ALARM = 0.1;

/** A uniform draw in [0, 1) fixed by `key`. (SHA-256, not stableHash: FNV-1a draws for keys that share a long tail are correlated.) */
function chance(key: string): number {
  return createHash("sha256").update(key).digest().readUInt32BE(0) / 2 ** 32;
}

const fenced = (sql: string): Reply => ({ text: `\`\`\`sql\n${sql}\n\`\`\`` });

export function sqlModels(seed: number): Responder {
  return ({ body }) => {
    const messages = requestMessages(body);
    const user = messages.findLast((m) => m.role === "user")?.text ?? "";
    const system = messages.filter((m) => m.role === "system" || m.role === "developer").map((m) => m.text).join("\n");
    // The optimizer's instructions quote runs, which hold the agents' own markers: read them first.
    const sample = typeof body.seed === "number" ? body.seed : stableHash(user);
    if (user.includes("### Run ")) return user.includes("</template>") ? reflect(user, sample) : critique(user, sample);
    if (user.includes("</template>")) return edit(user);
    if (user.includes(MARK.critique)) return rewrite(user, system, seed);
    if (user.includes(MARK.result)) return check(user, seed);
    if (user.includes(MARK.schema)) return write(user, system, seed);
    return { text: "I write and review SQLite queries for the Chinook database." };
  };
}

function questionOf(text: string): string {
  return /^Question: (.*)$/m.exec(text)?.[1]?.trim() ?? "";
}

function lapses(question: string, keep: ReadonlySet<RuleId>, seed: number): Set<RuleId> {
  return new Set(RULES.filter((r) => !keep.has(r.id) && chance(`${seed}:lapse:${r.id}:${question}`) < r.lapse).map((r) => r.id));
}

function write(user: string, system: string, seed: number): Reply {
  const question = questionOf(user);
  const spec = readQuestion(question);
  if (spec === undefined) return fenced("SELECT NULL");
  return fenced(writeSql(spec, { lapses: lapses(question, rulesStated(system), seed), fuzzyNames: chance(`${seed}:fuzzy:${question}`) < FUZZY_NAMES, misread: chance(`${seed}:misread:${question}`) < MISREAD }));
}

function rewrite(user: string, system: string, seed: number): Reply {
  const question = questionOf(user);
  const spec = readQuestion(question);
  const draft = extractSql(user.split(MARK.critique)[0] ?? "");
  if (spec === undefined) return fenced(draft);
  const critiqueText = user.split(MARK.critique)[1] ?? "";
  const keep = new Set([...rulesFollowed(draft), ...rulesStated(critiqueText), ...rulesStated(system)]);
  return fenced(writeSql(spec, { lapses: lapses(question, keep, seed), fuzzyNames: / LIKE /i.test(draft), misread: chance(`${seed}:misread:${question}`) < MISREAD }));
}

function check(user: string, seed: number): Reply {
  const question = questionOf(user);
  const [before, result = ""] = user.split(MARK.result);
  const sql = extractSql(before ?? "");
  const error = /^ERROR: (.*)$/m.exec(result)?.[1];
  if (error !== undefined) {
    const fix = ruleForError(error);
    return review("wrong", fix === undefined ? `The query fails (${error}); rewrite it so that it runs.` : rule(fix).sentence);
  }
  const noticed = rulesBroken(question, sql).filter((id) => chance(`${seed}:notice:${id}:${question}:${sql}`) < rule(id).noticed);
  if (noticed.length > 0) return review("wrong", noticed.map((id) => rule(id).sentence).join(" "));
  if (chance(`${seed}:false-alarm:${question}:${sql}`) < FALSE_ALARM) return review("wrong", "The result looks implausible for the question; re-check the joins and the filters.");
  return review("correct", "The query answers the question.");
}

const review = (verdict: "correct" | "wrong", critiqueText: string): Reply => ({ text: `VERDICT: ${verdict}\nCRITIQUE: ${critiqueText}` });

// ---------------------------------------------------------------------------------------------
// The optimizer
// ---------------------------------------------------------------------------------------------

/** The first """-quoted block of an instruction: the template under review. */
function quoted(prompt: string): string {
  return /"""\n([\s\S]*?)\n"""/.exec(prompt)?.[1] ?? "";
}

/** For each failed run shown: the habits its first query broke (or its error points to). */
function failures(prompt: string): RuleId[][] {
  const found: RuleId[][] = [];
  for (const block of prompt.split(/^### Run \d+: /m).slice(1)) {
    const reward = Number.parseFloat(/^reward (-?[\d.]+)/.exec(block)?.[1] ?? "0");
    if (reward >= 1) continue;
    const task = /^Task: (.*)$/m.exec(block)?.[1] ?? "";
    let question = "";
    try {
      question = String((JSON.parse(task) as { question?: unknown }).question ?? "");
    } catch {
      // A task clipped for length: its question cannot be read, the run tells nothing.
      continue;
    }
    // The first query of the conversation shown: the writer's draft (or, in another agent's call, the query it was given).
    const query = /```sql\n([\s\S]*?)```/.exec(block.split(/^Conversation:/m)[1] ?? "")?.[1];
    if (query === undefined) continue;
    const broken = new Set(rulesBroken(question, query.trim()));
    const fix = ruleForError(/^Feedback: (.*)$/m.exec(block)?.[1] ?? "");
    if (fix !== undefined) broken.add(fix);
    found.push([...broken]);
  }
  return found;
}

/** APO's critique: the two unstated habits that would have fixed the most failed runs (starting from one of the three strongest, so siblings differ). */
function critique(prompt: string, sample: number): Reply {
  const known = rulesStated(quoted(prompt));
  const counts = new Map<RuleId, number>();
  for (const broken of failures(prompt)) for (const id of broken) if (!known.has(id)) counts.set(id, (counts.get(id) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || RULES.findIndex((r) => r.id === a[0]) - RULES.findIndex((r) => r.id === b[0]));
  if (ranked.length === 0) return { text: "- The failed runs show no habit the prompt is missing.\nTARGET: writer" };
  const start = sample % Math.min(3, ranked.length);
  const chosen = [...ranked.slice(start), ...ranked.slice(0, start)].slice(0, 2);
  return { text: `${chosen.map(([id, n]) => `- ${n} failed run(s) broke a rule the prompt never states: ${rule(id).sentence}`).join("\n")}\nTARGET: writer` };
}

/** APO's edit: the template with the guidance the critique states appended. */
function edit(prompt: string): Reply {
  const template = quoted(prompt);
  const added = RULES.filter((r) => prompt.includes(r.sentence) && !template.includes(r.sentence)).map((r) => r.sentence);
  return { text: `<template>\n${[template, ...added].join("\n")}\n</template>` };
}

/** GEPA's reflection: the critique this model would write about the runs, applied by its own edit. */
function reflect(prompt: string, sample: number): Reply {
  const diagnosis = critique(prompt, sample);
  return edit(`"""\n${quoted(prompt)}\n"""\n${"text" in diagnosis ? diagnosis.text : ""}`);
}
