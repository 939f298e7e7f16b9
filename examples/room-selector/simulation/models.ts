/**
 * Two deterministic, simulated models for the room-selection task, served by the mock LLM:
 *
 * - **The agent model** is prompt-sensitive: it calls `get_rooms_and_availability`, then picks a
 *   room following only the rules its system prompt states (it ignores accessibility unless told,
 *   takes the first room listed unless told how to break ties, …). A prompt stating every rule
 *   scores 57/57; the bare seed prompt 8/57. Optional `noise` makes it answer wrongly at a given
 *   rate — the same way for the same prompt, task and repetition, so runs stay reproducible.
 * - **The optimizer model** answers APO's critique and edit instructions (and GEPA's reflections, which hold both). Its critique reads the
 *   failed runs, finds which unstated rule would have fixed the most of them, and states it; its
 *   edit appends the rules a critique states to the template. Other modes make it useless or make
 *   it break placeholders, for the tests of those paths.
 */
import { type Reply, type Responder, requestMessages, stableHash } from "tracetrain/testing";
import { chooseRoom, listRooms, RULES, type Room, type RoomRequest, type RuleId, rulesStated, violatedRules } from "./rules.js";

const EQUIPMENT = ["projector", "whiteboard", "confphone", "tv", "ledwall"];

export interface RoomAgentModelOptions {
  rooms: readonly Room[];
  /** Chance of a wrong answer (default 0). */
  noise?: number;
}

/** The agent model: a tool call first, then a room id (or "No Room"). */
export function roomAgentModel(options: RoomAgentModelOptions): Responder {
  const asked = new Map<string, number>();
  return ({ body }) => {
    const messages = requestMessages(body);
    const system = messages.filter((m) => m.role === "system" || m.role === "developer").map((m) => m.text).join("\n");
    const user = messages.filter((m) => m.role === "user").map((m) => m.text).join("\n");
    const request = parseRequest(user);
    if (!request) return { text: "I could not find the date, start time and duration in the request." };
    const toolResult = messages.findLast((m) => m.role === "tool");
    if (!toolResult) return { toolCalls: [{ name: "get_rooms_and_availability", arguments: { date: request.date, time: request.time, duration_min: request.duration_min } }] };
    let listing = listRooms(options.rooms, request);
    try {
      listing = JSON.parse(toolResult.text) as typeof listing;
    } catch {
      // A tool result that is not the listing: decide from the rooms themselves.
    }
    const choice = chooseRoom(request, listing, rulesStated(system));
    if (!options.noise) return { text: choice };
    const key = `${system}\u0000${user}`;
    const repetition = asked.get(key) ?? 0;
    asked.set(key, repetition + 1);
    const h = stableHash(`${key}\u0000${repetition}`);
    if ((h % 10_000) / 10_000 >= options.noise) return { text: choice };
    const others = [...listing.map((r) => r.id), "No Room"].filter((id) => id !== choice);
    return { text: others[h % others.length]! };
  };
}

export interface RoomOptimizerModelOptions {
  rooms: readonly Room[];
  /**
   * `helpful` (default) states the rule that fixes the most failures; `useless` only ever adds
   * generic advice; `add-placeholder` is helpful but also invents a `{{weekday}}` placeholder;
   * `drop-placeholder` is helpful but deletes the template's first placeholder.
   */
  mode?: "helpful" | "useless" | "add-placeholder" | "drop-placeholder";
  /** The template the critique blames (default `system`). */
  blame?: string;
}

/** The optimizer model, for APO's default critique and edit instructions. */
export function roomOptimizerModel(options: RoomOptimizerModelOptions): Responder {
  return ({ lastUserText, body }) => {
    // Like a sampling model, answers to one prompt vary — here with the request's `seed`, so they are reproducible.
    const sample = typeof body.seed === "number" ? body.seed : stableHash(lastUserText);
    if (!lastUserText.includes("</template>")) return critique(lastUserText, sample, options);
    return lastUserText.includes("### Run ") ? reflect(lastUserText, sample, options) : edit(lastUserText, sample, options);
  };
}

/**
 * GEPA's one-call reflection (runs and template together): the critique this model would write
 * about those runs, applied by its own edit — so its rewrite states only what the runs show.
 */
function reflect(prompt: string, sample: number, options: RoomOptimizerModelOptions): Reply {
  const diagnosis = critique(prompt, sample, options);
  const text = "text" in diagnosis ? (diagnosis.text ?? "") : "";
  return edit(`"""\n${quoted(prompt)}\n"""\n${text}`, sample, options);
}

function critique(prompt: string, sample: number, options: RoomOptimizerModelOptions): Reply {
  const blame = `TARGET: ${options.blame ?? "system"}`;
  if (options.mode === "useless") return { text: `- The agent should be more careful.\n${blame}` };
  const system = /\[system\] ([\s\S]*?)\n\[user\]/.exec(prompt)?.[1] ?? quoted(prompt);
  const known = rulesStated(system);
  const fixes = new Map<RuleId, number>();
  for (const run of failedRuns(prompt)) {
    const listing = listRooms(options.rooms, run.request);
    for (const rule of violatedRules(run.request, listing, run.answer, run.expected)) {
      if (!known.has(rule)) fixes.set(rule, (fixes.get(rule) ?? 0) + 1);
    }
  }
  const ranked = [...fixes.entries()].sort((a, b) => b[1] - a[1] || order(a[0]) - order(b[0]));
  if (ranked.length === 0) return { text: `- The failed runs are not explained by a missing rule.\n${blame}` };
  // Like a critique's few bullet points: two rules, starting from one of the three strongest, so the
  // children of one parent explore different fixes.
  const start = sample % Math.min(3, ranked.length);
  const chosen = [...ranked.slice(start), ...ranked.slice(0, start)].slice(0, 2);
  const bullets = chosen.map(([rule, count]) => `- ${count} failed run(s) would have succeeded broke a rule the prompt never states: ${RULES.find((r) => r.id === rule)!.sentence}`);
  return { text: `${bullets.join("\n")}\n${blame}` };
}

function edit(prompt: string, sample: number, options: RoomOptimizerModelOptions): Reply {
  const template = quoted(prompt);
  const stated = RULES.filter((rule) => prompt.includes(rule.sentence) && !template.includes(rule.sentence)).map((rule) => rule.sentence);
  let revised = options.mode === "useless" ? `${template}\n${USELESS[sample % USELESS.length]}` : [template, ...stated].join("\n");
  if (options.mode === "add-placeholder") revised += " Mention the day as {{weekday}}.";
  if (options.mode === "drop-placeholder") revised = revised.replace(/\{\{\s*[\w.]+\s*\}\}/, "");
  // Answer in the three shapes optimizers use, to exercise the parsing.
  switch (sample % 3) {
    case 0:
      return { text: `<template>\n${revised}\n</template>` };
    case 1:
      return { text: `Here is the revised template:\n\n\`\`\`text\n${revised}\n\`\`\`\n\nIt adds the missing rule.` };
    default:
      return { text: `Sure. <template>${revised}</template>` };
  }
}

const USELESS = ["Be careful.", "Double-check your answer.", "Think step by step.", "Take your time.", "Be concise."];

/** The first `"""`-quoted block of an instruction: the template under review. */
function quoted(prompt: string): string {
  return /"""\n([\s\S]*?)\n"""/.exec(prompt)?.[1] ?? "";
}

/** Runs with a reward below 1, as the experiments text shows them. */
function failedRuns(prompt: string): Array<{ request: RoomRequest; expected: string; answer: string }> {
  const out: Array<{ request: RoomRequest; expected: string; answer: string }> = [];
  for (const block of prompt.split(/^### Run \d+: /m).slice(1)) {
    const reward = Number.parseFloat(/^reward (-?[\d.]+)/.exec(block)?.[1] ?? "0");
    const task = /^Task: (.*)$/m.exec(block)?.[1];
    if (!(reward < 1) || task === undefined) continue;
    try {
      const parsed = JSON.parse(task) as { task_input: RoomRequest; expected_choice: string };
      const answer = [...block.matchAll(/^\[assistant\] (.*)$/gm)].map((m) => m[1]!).filter((text) => !text.includes("→ calls")).at(-1) ?? "";
      out.push({ request: parsed.task_input, expected: parsed.expected_choice, answer: answer.trim() });
    } catch {
      // A task clipped for length cannot be replayed; the others still count.
    }
  }
  return out;
}

/** The booking request the agent was given, read from its user message. */
export function parseRequest(text: string): RoomRequest | undefined {
  const date = /(\d{4}-\d{2}-\d{2})/.exec(text)?.[1];
  const time = /\b(\d{1,2}:\d{2})\b/.exec(text)?.[1];
  const duration = /(\d+)\s*min/i.exec(text)?.[1];
  if (!date || !time || !duration) return undefined;
  const attendees = /attendees\s*:\s*(\d+)|(\d+)\s*(?:attendees|people|persons|participants)/i.exec(text);
  const needs = /(?:equipment needed|needs)\s*:\s*([^\n.]*)/i.exec(text)?.[1] ?? "";
  return {
    date,
    time,
    duration_min: Number(duration),
    attendees: Number(attendees?.[1] ?? attendees?.[2] ?? 1),
    needs: EQUIPMENT.filter((e) => needs.includes(e)),
    accessible_required: /accessib[^:\n]*:\s*(?:true|yes)/i.test(text),
  };
}


function order(rule: RuleId): number {
  return RULES.findIndex((r) => r.id === rule);
}

