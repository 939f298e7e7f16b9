/**
 * Keeping optimizer edits safe to use. An edited template must keep exactly its parent's
 * placeholders (a dropped `{date}` silently removes the task from the prompt; a new `{foo}` fails
 * at format time) and stay within a length bound. The optimizer's reply is taken apart robustly:
 * the template between `<template>` tags, else in a code fence, else the whole reply without a
 * leading "Here is…" line.
 */
import { PromptTemplate } from "../types/index.js";
import type { PromptTemplateResource } from "../types/index.js";

export type TemplateProblem =
  | { kind: "empty" }
  | { kind: "placeholders"; missing: string[]; added: string[] }
  | { kind: "too_long"; length: number; limit: number };

export function describeProblem(problem: TemplateProblem): string {
  switch (problem.kind) {
    case "empty":
      return "the reply held no template";
    case "placeholders":
      return [
        problem.missing.length > 0 ? `it dropped the placeholder(s) ${problem.missing.join(", ")}` : "",
        problem.added.length > 0 ? `it added the placeholder(s) ${problem.added.join(", ")}, which the agent does not fill` : "",
      ]
        .filter(Boolean)
        .join("; ");
    case "too_long":
      return `it is ${problem.length} characters long, over the limit of ${problem.limit}`;
  }
}

/** The template text in an optimizer reply. */
export function extractTemplate(reply: string): string {
  const tagged = /<template>\s*\n?([\s\S]*?)\n?\s*<\/template>/i.exec(reply);
  if (tagged) return tagged[1]!.trim();
  const fenced = /```[a-zA-Z]*\n([\s\S]*?)\n```/.exec(reply);
  if (fenced) return fenced[1]!.trim();
  return reply.replace(/^\s*(?:here(?:'s| is)[^\n]*:\s*\n|revised (?:prompt|template)[^\n]*:\s*\n)/i, "").trim();
}

/** What is wrong with `candidate` as an edit of `parent`, or undefined when it can be used. */
export function checkEdit(parent: PromptTemplateResource, candidate: string, maxLength: number): TemplateProblem | undefined {
  if (candidate.trim() === "") return { kind: "empty" };
  if (candidate.length > maxLength) return { kind: "too_long", length: candidate.length, limit: maxLength };
  const before = new Set(new PromptTemplate(parent.template, parent.engine).variables());
  const after = new Set(new PromptTemplate(candidate, parent.engine).variables());
  const missing = [...before].filter((name) => !after.has(name));
  const added = [...after].filter((name) => !before.has(name));
  return missing.length > 0 || added.length > 0 ? { kind: "placeholders", missing, added } : undefined;
}

/**
 * Repairs what can be repaired without guessing: a placeholder the edit invented is turned into
 * literal text (f-string `{x}` → `{{x}}`; mustache `{{x}}` → `x`). A dropped placeholder cannot be
 * put back in the right place by a rule, so that problem is left for the optimizer or rejection.
 */
export function repairAddedPlaceholders(parent: PromptTemplateResource, candidate: string): string {
  const known = new Set(new PromptTemplate(parent.template, parent.engine).variables());
  if (parent.engine === "fstring") {
    return candidate.replace(/\{\{|\}\}|\{([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\}/g, (token, name: string | undefined) =>
      name === undefined || known.has(name) ? token : `{{${name}}}`,
    );
  }
  return candidate.replace(/\{\{\s*([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\s*\}\}/g, (token, name: string) => (known.has(name) ? token : name));
}

/** How an engine's placeholders look, for the edit instructions. */
export function engineNote(engine: "mustache" | "fstring"): string {
  return engine === "mustache" ? "placeholders are written {{name}}" : "placeholders are written {name}; a literal brace is {{ or }}";
}

/** The placeholders an edit must keep, as the template writes them. */
export function placeholderList(template: string, engine: "mustache" | "fstring"): string {
  const names = new PromptTemplate(template, engine).variables();
  if (names.length === 0) return "(there are none)";
  return names.map((name) => (engine === "mustache" ? `{{${name}}}` : `{${name}}`)).join(", ");
}
