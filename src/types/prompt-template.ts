import { ValidationError } from "./errors.js";
import type { PromptTemplateResource } from "./resources.js";

type Engine = PromptTemplateResource["engine"];

// `{{ name }}` — mustache-style, without HTML escaping (prompts are not HTML). Dotted paths reach
// into objects: `{{ task.date }}`.
const MUSTACHE = /\{\{\s*([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\s*\}\}/g;
// `{name}` — Python str.format style; `{{` and `}}` are literal braces. Also dotted paths.
const FSTRING = /\{\{|\}\}|\{([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\}/g;

/**
 * A prompt template resource made usable: `format(vars)` fills in the placeholders, and a
 * placeholder with no value is an error that names it — a silently empty slot in a prompt is the
 * kind of bug that quietly ruins an optimization run.
 */
export class PromptTemplate {
  constructor(
    readonly template: string,
    readonly engine: Engine = "mustache",
  ) {}

  static from(resource: PromptTemplateResource): PromptTemplate {
    return new PromptTemplate(resource.template, resource.engine);
  }

  /** The placeholder names the template uses, in order of first appearance. */
  variables(): string[] {
    const names = new Set<string>();
    for (const match of this.template.matchAll(this.engine === "mustache" ? MUSTACHE : FSTRING)) {
      if (match[1] !== undefined) names.add(match[1]);
    }
    return [...names];
  }

  /**
   * The template cut into literal text and placeholders, in order (an fstring's `{{` / `}}` are
   * literal braces): what a pattern that matches the template's formatted texts is built from.
   */
  segments(): Array<{ literal: string } | { variable: string }> {
    const out: Array<{ literal: string } | { variable: string }> = [];
    let at = 0;
    for (const match of this.template.matchAll(this.engine === "mustache" ? MUSTACHE : FSTRING)) {
      out.push({ literal: this.template.slice(at, match.index) });
      out.push(match[1] === undefined ? { literal: match[0][0]! } : { variable: match[1] });
      at = match.index + match[0].length;
    }
    out.push({ literal: this.template.slice(at) });
    return out;
  }

  /** The template with every placeholder replaced by its value (objects as JSON). */
  format(vars: Record<string, unknown> = {}): string {
    const missing = this.variables().filter((name) => lookup(vars, name) === undefined);
    if (missing.length > 0) {
      const available = Object.keys(vars);
      throw new ValidationError(
        "prompt variables",
        missing.map((name) => ({
          path: name,
          message: `the template uses {${name}} but no value was given (given: ${available.length ? available.join(", ") : "nothing"})`,
        })),
      );
    }
    if (this.engine === "mustache") return this.template.replace(MUSTACHE, (_, name: string) => render(lookup(vars, name)));
    return this.template.replace(FSTRING, (token: string, name: string | undefined) =>
      name === undefined ? token[0]! : render(lookup(vars, name)),
    );
  }
}

function lookup(vars: Record<string, unknown>, path: string): unknown {
  let value: unknown = vars;
  for (const key of path.split(".")) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function render(value: unknown): string {
  return typeof value === "string" ? value : typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}
