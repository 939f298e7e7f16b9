/** Reading option values: each kind of {@link ValueCheck} once, with the usage error it gives. */
import { creditPolicyFromName } from "../adapters/index.js";
import { ValidationError } from "../types/index.js";
import type { ValueCheck } from "./commands.js";
import { UsageError } from "./errors.js";

export function parsePort(text: string, flag = "--port"): number {
  const port = Number(text);
  if (text.trim() === "" || !Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(flag, `expected a port number (0 to 65535), got ${text}`);
  return port;
}

export function wholeNumber(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < min) throw new UsageError(flag, `expected a whole number ≥ ${min}, got ${text}`);
  return n;
}

export function finiteNumber(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n)) throw new UsageError(flag, `expected a number, got ${text}`);
  return n;
}

export function seconds(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0) throw new UsageError(flag, `expected seconds (a number ≥ 0), got ${JSON.stringify(text)}`);
  return n;
}

/** `text` if it is one of `choices`; "a, b or c" in the error otherwise. */
export function choiceOf<const C extends string>(flag: string, text: string | undefined, choices: readonly C[]): C {
  if (text !== undefined && (choices as readonly string[]).includes(text)) return text as C;
  const expected = choices.length === 1 ? choices[0]! : `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)!}`;
  throw new UsageError(flag, `expected ${expected}, got ${text ?? "nothing"}`);
}

/** Checks one value of option `flag` as `check` says; throws the {@link UsageError} the command would. */
export function checkValue(flag: string, check: ValueCheck, text: string): void {
  switch (check.kind) {
    case "port":
      parsePort(text, flag);
      return;
    case "whole":
      wholeNumber(flag, text, check.min);
      return;
    case "number":
      finiteNumber(flag, text);
      return;
    case "seconds":
      seconds(flag, text);
      return;
    case "choice":
      for (const item of check.commaList ? text.split(",").map((t) => t.trim()) : [text]) choiceOf(flag, item, check.choices);
      return;
    case "credit":
      try {
        creditPolicyFromName(text);
      } catch (error) {
        if (error instanceof ValidationError) throw new UsageError(flag, error.issues.map((issue) => issue.message).join("; "));
        throw error;
      }
  }
}
