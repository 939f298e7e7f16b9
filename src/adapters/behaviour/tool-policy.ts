/**
 * `toolPolicy`: the tool calls an agent must not make, or that someone should look at — by tool
 * name, by a pattern in the arguments (the raw text, or one value picked by a JSON path), and by
 * built-in rule sets a user opts into: destructive SQL, dangerous shell, hosts outside an
 * allow-list. Patterns run on the arguments folded for look-alike and invisible characters (see
 * normalize.ts). A finding points at the tool span when the tool ran, else at the LLM call that
 * asked for it.
 */
import { z } from "zod";
import { FindingSeveritySchema, type FindingSeverity, type JsonValue, parseOrThrow } from "../../types/index.js";
import type { ExtractedCall } from "../calls.js";
import type { ToolUse } from "../tool-uses.js";
import type { AdaptedAttempt } from "../transitions.js";
import type { Detector, FindingDraft } from "./detector.js";
import { fold } from "./normalize.js";
import { escapeRegExp, stateless } from "./regexp.js";
import { destructiveSql } from "./sql-rules.js";
import { dangerousShell } from "./shell-rules.js";
import { type ArgumentLeaf, argumentLeaves, argumentText, clip, excerpt, parsedArguments, policyToolUses } from "./trace-text.js";
import { disallowedHosts, hostAllowList } from "./url-hosts.js";

/** A tool name: exact, or a RegExp tested on the name. */
const ToolMatchSchema = z.union([z.string().min(1), z.instanceof(RegExp)]);

/** One rule of `deny` or `flag`. */
export const ToolRuleSchema = z
  .strictObject({
    /** The finding's rule name. @default "denied-tool" in `deny`, "flagged-tool" in `flag` */
    rule: z.string().min(1).max(128).optional(),
    /** The tool it applies to: its exact name, or a RegExp tested on the name. @default every tool */
    tool: ToolMatchSchema.optional(),
    /** A pattern the arguments must contain: a string (found case-insensitively) or a RegExp. Tested on the raw argument text, or on the value at `path`. */
    argument: z.union([z.string().min(1), z.instanceof(RegExp)]).optional(),
    /** A JSON path into the arguments (`query`, `$.options.target`, `files[0]`): `argument` is tested on that value only; without `argument`, the rule fires when the path is present. */
    path: z.string().min(1).max(500).optional(),
    /** The finding's severity. @default "high" in `deny`, "medium" in `flag` */
    severity: FindingSeveritySchema.optional(),
    /** Said in the finding's message: why the call is denied or flagged. */
    reason: z.string().min(1).max(500).optional(),
  })
  .refine((r) => r.tool !== undefined || r.argument !== undefined || r.path !== undefined, { message: "a rule needs a tool, an argument pattern or a path" });

/** A built-in rule set switched on with options. */
const RuleSetSchema = z.strictObject({
  /** The severity of its findings. @default "high" */
  severity: FindingSeveritySchema.default("high"),
  /** Only the arguments of these tools are checked (exact names, or a RegExp). @default every tool */
  tools: z.union([z.array(z.string().min(1)), z.instanceof(RegExp)]).optional(),
});

export const ToolPolicyOptionsSchema = z.strictObject({
  /** Tool calls that are not allowed (rule `denied-tool` unless named, severity `high` unless set). @default [] */
  deny: z.array(ToolRuleSchema).default([]),
  /** Tool calls someone should look at (rule `flagged-tool` unless named, severity `medium` unless set). @default [] */
  flag: z.array(ToolRuleSchema).default([]),
  /** Destructive SQL in any string argument (rule `destructive-sql`): DROP, TRUNCATE, ALTER, DELETE or UPDATE without WHERE — `true` for the defaults. @default false */
  sql: z.union([z.boolean(), RuleSetSchema]).default(false),
  /** Dangerous shell in any string argument (rule `dangerous-shell`): `rm -rf` of / or ~, `curl … | sh`, `chmod 777`, fork bombs, `mkfs`, `dd of=/dev/…` — `true` for the defaults. @default false */
  shell: z.union([z.boolean(), RuleSetSchema]).default(false),
  /** URLs in string arguments whose host is not in `allow` (rule `host-not-allowed`). Off unless given. */
  hosts: z
    .strictObject({
      /** Allowed hosts: `example.com` (that host), `*.example.com` (its subdomains only), `.example.com` (both). */
      allow: z.array(z.string().min(1).max(253)),
      /** The severity of its findings. @default "high" */
      severity: FindingSeveritySchema.default("high"),
      /** URL schemes checked. @default ["http", "https", "ws", "wss", "ftp"] */
      schemes: z.array(z.string().min(1)).default(["http", "https", "ws", "wss", "ftp"]),
      /** Only the arguments of these tools are checked (exact names, or a RegExp). @default every tool */
      tools: z.union([z.array(z.string().min(1)), z.instanceof(RegExp)]).optional(),
    })
    .optional(),
});
export type ToolPolicyOptions = z.input<typeof ToolPolicyOptionsSchema>;
type ParsedRule = z.output<typeof ToolRuleSchema>;

/** A tool call as the rules see it. */
interface ToolCallView {
  use: ToolUse;
  call: ExtractedCall;
  raw: string;
  parsed: JsonValue | undefined;
  /** String arguments folded for look-alike and invisible characters. */
  leaves: ArgumentLeaf[];
  /** String arguments as written: hosts are read from these, since folding `exаmple.com` (Cyrillic а) into `example.com` would allow it. */
  rawLeaves: ArgumentLeaf[];
}

type Check = (view: ToolCallView) => FindingDraft[];

/** A detector of denied and flagged tool calls (see the module comment). Throws a `ValidationError` for bad options. */
export function toolPolicy(options: ToolPolicyOptions = {}): Detector {
  const o = parseOrThrow(ToolPolicyOptionsSchema, options, "toolPolicy options");
  const checks: Check[] = [
    ...o.deny.map((r) => ruleCheck(r, "denied-tool", "high", "denied")),
    ...o.flag.map((r) => ruleCheck(r, "flagged-tool", "medium", "flagged")),
  ];
  const sql = ruleSet(o.sql);
  if (sql !== undefined) checks.push(leafCheck("destructive-sql", sql, (text) => destructiveSql(text).map((h) => ({ what: h.what, quote: clip(h.statement.trim()) }))));
  const shell = ruleSet(o.shell);
  if (shell !== undefined) checks.push(leafCheck("dangerous-shell", shell, (text) => dangerousShell(text).map((h) => ({ what: h.what, quote: excerpt(text, h.start, h.end, 40) }))));
  if (o.hosts !== undefined) {
    const allowed = hostAllowList(o.hosts.allow);
    const schemes = o.hosts.schemes.map((s) => s.toLowerCase());
    const hosts = { severity: o.hosts.severity, tools: toolMatcher(o.hosts.tools) };
    checks.push(leafCheck("host-not-allowed", { ...hosts, raw: true }, (text) => disallowedHosts(text, allowed, schemes).map((h) => ({ what: `host ${h.host} not allowed`, quote: clip(h.url) }))));
  }
  return {
    name: "tool-policy",
    inspect(attempt: AdaptedAttempt): FindingDraft[] {
      return policyToolUses(attempt).flatMap(({ use, call }) => {
        const raw = fold(argumentText(use.arguments)).text;
        const parsed = parsedArguments(use.arguments);
        const rawLeaves = argumentLeaves(use.arguments);
        const leaves = rawLeaves.map((l) => ({ path: l.path, text: fold(l.text).text }));
        const view: ToolCallView = { use, call, raw, parsed, leaves, rawLeaves };
        return checks.flatMap((check) => check(view));
      });
    },
  };
}

function ruleSet(option: boolean | { severity: FindingSeverity; tools?: string[] | RegExp | undefined }): { severity: FindingSeverity; tools: ToolMatcher } | undefined {
  if (option === false) return undefined;
  if (option === true) return { severity: "high", tools: () => true };
  return { severity: option.severity, tools: toolMatcher(option.tools) };
}

type ToolMatcher = (name: string) => boolean;

function toolMatcher(tools: string[] | RegExp | undefined): ToolMatcher {
  if (tools === undefined) return () => true;
  if (tools instanceof RegExp) {
    const re = stateless(tools);
    return (name) => re.test(name);
  }
  const names = new Set(tools);
  return (name) => names.has(name);
}

function ruleCheck(rule: ParsedRule, defaultName: string, defaultSeverity: FindingSeverity, verb: string): Check {
  const tool = toolMatcher(rule.tool === undefined ? undefined : typeof rule.tool === "string" ? [rule.tool] : rule.tool);
  const argument = rule.argument === undefined ? undefined : typeof rule.argument === "string" ? new RegExp(escapeRegExp(rule.argument), "i") : stateless(rule.argument);
  const name = rule.rule ?? defaultName;
  const severity = rule.severity ?? defaultSeverity;
  return (view) => {
    if (!tool(fold(view.use.name).text)) return [];
    let evidence = clip(view.raw);
    if (rule.path !== undefined) {
      const value = valueAtPath(view.parsed, rule.path);
      if (value === undefined) return [];
      const text = fold(argumentText(value)).text;
      if (argument !== undefined) {
        const m = argument.exec(text);
        if (m === null) return [];
        evidence = `${clip(rule.path, 200)}: ${excerpt(text, m.index, m.index + m[0].length, 60)}`;
      } else evidence = `${clip(rule.path, 200)}: ${clip(text)}`;
    } else if (argument !== undefined) {
      const m = argument.exec(view.raw);
      if (m === null) return [];
      evidence = excerpt(view.raw, m.index, m.index + m[0].length, 60);
    }
    const why = rule.reason === undefined ? "" : `: ${rule.reason}`;
    return [{ rule: name, severity, message: `tool call '${clip(view.use.name, 100)}' is ${verb} by the tool policy${why}`, evidence, ...spanOf(view) }];
  };
}

/** A check run on every string argument; one finding per kind of hit per tool call (the first one's quote). */
function leafCheck(rule: string, set: { severity: FindingSeverity; tools: ToolMatcher; raw?: boolean }, find: (text: string) => Array<{ what: string; quote: string }>): Check {
  return (view) => {
    if (!set.tools(view.use.name)) return [];
    const seen = new Map<string, FindingDraft>();
    for (const leaf of set.raw === true ? view.rawLeaves : view.leaves) {
      for (const hit of find(leaf.text)) {
        if (seen.has(hit.what)) continue;
        const path = clip(leaf.path, 200);
        const where = path === "" ? "its arguments" : `argument '${path}'`;
        seen.set(hit.what, { rule, severity: set.severity, message: `tool call '${clip(view.use.name, 100)}' has ${clip(hit.what, 300)} in ${where}`, evidence: path === "" ? hit.quote : `${path}: ${hit.quote}`, ...spanOf(view) });
      }
    }
    return [...seen.values()];
  };
}

function spanOf(view: ToolCallView): { spanId: string } {
  return { spanId: view.use.spanId ?? view.call.callId };
}

/** The value at a JSON path (`a.b[0]`, `$.a["b c"]`), or undefined when any step is missing. */
function valueAtPath(value: JsonValue | undefined, path: string): JsonValue | undefined {
  const steps = [...path.replace(/^\$\.?/, "").matchAll(/([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : (m[3] ?? m[1]!)));
  let current: JsonValue | undefined = value;
  for (const step of steps) {
    if (typeof step === "number") current = Array.isArray(current) ? current[step] : undefined;
    else current = typeof current === "object" && current !== null && !Array.isArray(current) && Object.hasOwn(current, step) ? current[step] : undefined;
    if (current === undefined) return undefined;
  }
  return current;
}
