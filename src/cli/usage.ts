/** The text of `tracetrain --help`, and of each command's `--help`, written from {@link COMMAND_SPECS}. */
import { COMMAND_NAMES, COMMAND_SPECS, type CommandName, type CommandSpec, type OptionSpec, commandSpec } from "./commands.js";

const WIDTH = 100;

/** What every command shares: how to ask for help, and how failures are reported. */
export const GLOBAL_USAGE = {
  version: "Print tracetrain's version. Any command followed by --help prints its own usage.",
  failures:
    "A failure is one line on stderr; exit 2 when it is something to fix (a bad option, a port in use, a path, a store that is missing or unreachable, a module not found), 1 otherwise. Add --debug (or set TRACETRAIN_DEBUG=1) for the stack trace.",
} as const;

/** `text` broken into lines of at most `width` characters (a longer word stands alone), each after `indent`. */
export function wrap(text: string, indent: string, width = WIDTH, firstIndent = indent): string[] {
  const lines: string[] = [];
  let line = firstIndent;
  let empty = true;
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent;
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines;
}

/** `--store URL`, `[--port PORT]`, `--upstream URL [--upstream URL …]`, `[--mode train|val|test …]`. */
function optionSynopsis(name: string, option: OptionSpec): string {
  const one = option.type === "boolean" ? `--${name}` : `--${name} ${option.value}`;
  const repeats = option.type === "string" && option.multiple === true;
  if (option.required) return repeats ? `${one} [${one} …]` : one;
  return repeats ? `[${one} …]` : `[${one}]`;
}

/** `tracetrain NAME POSITIONALS OPTIONS…`, wrapped under the command's name. */
export function synopsisOf(name: CommandName, indent = "  "): string[] {
  const spec: CommandSpec = COMMAND_SPECS[name];
  const head = `tracetrain ${name}`;
  const parts = [...(spec.positionals ?? []), ...Object.entries(spec.options).map(([option, o]) => optionSynopsis(option, o))];
  const lines: string[] = [];
  let line = `${indent}${head}`;
  for (const part of parts) {
    if (line.length + 1 + part.length > WIDTH && line.trim() !== head) {
      lines.push(line);
      line = " ".repeat(indent.length + head.length);
    }
    line += ` ${part}`;
  }
  lines.push(line);
  return lines;
}

function section(name: CommandName): string {
  return [...synopsisOf(name), ...wrap(COMMAND_SPECS[name].summary, "      ")].join("\n");
}

export const USAGE = [
  "usage:",
  ...COMMAND_NAMES.map(section),
  "  tracetrain --version",
  ...wrap(GLOBAL_USAGE.version, "      "),
  "",
  ...wrap(GLOBAL_USAGE.failures, "  "),
].join("\n");

/** What an option's help says after its description: its default, and where else it may come from. */
export function optionNotes(option: OptionSpec): string[] {
  const notes: string[] = [];
  if (option.required) notes.push("Required.");
  if (option.type === "string" && option.default !== undefined) notes.push(`Default: ${option.default}.`);
  if (option.type === "string" && option.env !== undefined) notes.push(`Or set ${option.env}.`);
  return notes;
}

function optionHelp(name: string, option: OptionSpec): string[] {
  const head = option.type === "boolean" ? `--${name}` : `--${name} ${option.value}${option.multiple ? " …" : ""}`;
  return [`    ${head}`, ...wrap([option.description, ...optionNotes(option)].join(" "), "        ")];
}

/**
 * The usage of one command, with each of its options explained; of every command of a family
 * (`store`, `backend`); or all of it for a word that names no command.
 */
export function usageOf(command: string): string {
  const spec = commandSpec(command);
  if (spec !== undefined) {
    const options = Object.entries(spec.options).flatMap(([name, option]) => optionHelp(name, option));
    return ["usage:", section(command as CommandName), "", "  options:", ...options].join("\n");
  }
  const family = COMMAND_NAMES.filter((name) => name.startsWith(`${command} `));
  return family.length === 0 ? USAGE : ["usage:", ...family.map(section)].join("\n");
}

/** What the usage of `command` says `option` takes (`--store URL` → "URL"), or undefined. */
export function valueNameOf(command: string, option: string): string | undefined {
  const spec = commandSpec(command)?.options[option.replace(/^-+/, "")];
  return spec?.type === "string" ? spec.value : undefined;
}
