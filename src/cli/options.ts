/** Reading a command's options: node's parser, with its errors turned into one-line usage errors. */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "./errors.js";
import { valueNameOf } from "./usage.js";

type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/**
 * The options of `tracetrain COMMAND ARGS` (no positional arguments). A mistyped option, a missing
 * value or a stray argument is a {@link UsageError} that names it and what was expected.
 */
export function parseOptions<const O extends OptionsConfig>(command: string, args: string[], options: O) {
  try {
    return parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw usageErrorOf(error, command, options);
  }
}

/**
 * {@link parseOptions} for a command that takes the positional arguments `names` (`FILE`), in that
 * order; a name in brackets (`[DIR]`) may be left out, and only after the required ones.
 */
export function parseArguments<const O extends OptionsConfig>(command: string, args: string[], options: O, names: readonly string[]) {
  let parsed;
  try {
    parsed = parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw usageErrorOf(error, command, options);
  }
  const { values, positionals } = parsed;
  const required = names.filter((name) => !name.startsWith("[")).length;
  if (positionals.length < required) throw new UsageError(names[positionals.length]!, "required");
  if (positionals.length > names.length) throw new UsageError(positionals[names.length]!, "unexpected argument");
  return { values, positionals };
}

function usageErrorOf(error: unknown, command: string, options: OptionsConfig): unknown {
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === "string" ? message : "";
  const named = /'(-{1,2}[^ '=]+)/.exec(text)?.[1] ?? "";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const close = closestOption(named, Object.keys(options));
    return new UsageError(named, `unknown option${close === undefined ? "" : `; did you mean --${close}?`}`);
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (text.includes("does not take an argument")) return new UsageError(named, "takes no value");
    return new UsageError(named, `expected a value (${named} ${valueNameOf(command, named) ?? "VALUE"})`);
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const argument = /'([^']*)'/.exec(text)?.[1] ?? "";
    return new UsageError(argument, "unexpected argument (options are written --name value)");
  }
  return error;
}

/** The known option most like `typed` (a typo or a missing letter or two), if one is close enough. */
function closestOption(typed: string, known: readonly string[]): string | undefined {
  const name = typed.replace(/^-+/, "");
  let best: { option: string; distance: number } | undefined;
  for (const option of known) {
    const distance = editDistance(name, option);
    if (distance <= Math.max(1, Math.floor(option.length / 4)) && (best === undefined || distance < best.distance)) best = { option, distance };
  }
  return best?.option;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
