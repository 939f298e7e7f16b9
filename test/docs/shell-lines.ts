/**
 * Reading the shell blocks of the docs: the fenced blocks, the commands in them (continuations
 * joined, `&&`/`;`/`|` split, comments and `VAR=value` prefixes taken off) and, for `$ ` transcripts,
 * what each command is shown to print.
 */

export interface ShellCommand {
  /** `FILE:LINE` of the command in the docs. */
  where: string;
  /** The words, quotes removed. */
  words: string[];
  /** In a `$ ` transcript: the lines shown after the command, up to the next one. */
  output: string[] | undefined;
}

const SHELL_FENCE = /^```(?:bash|sh|shell|console|zsh)[ \t]*$/;

/** The shell blocks of a Markdown text: each block's lines and the 1-based line of its first one. */
export function shellBlocks(markdown: string): Array<{ line: number; lines: string[] }> {
  const lines = markdown.split("\n");
  const blocks: Array<{ line: number; lines: string[] }> = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```/.exec(lines[i]!);
    if (fence === null) continue;
    const end = lines.findIndex((line, j) => j > i && /^\s*```\s*$/.test(line));
    if (end < 0) break;
    if (SHELL_FENCE.test(lines[i]!.trim())) blocks.push({ line: i + 2, lines: lines.slice(i + 1, end).map((line) => line.slice(fence[1]!.length)) });
    i = end;
  }
  return blocks;
}

/** The commands of one block; `file` and the block's first line place them. */
export function commandsOf(file: string, block: { line: number; lines: string[] }): ShellCommand[] {
  const transcript = block.lines.some((line) => line.startsWith("$ "));
  const commands: ShellCommand[] = [];
  let pending: { text: string; line: number } | undefined;
  let last: ShellCommand[] = [];
  block.lines.forEach((raw, i) => {
    const line = block.line + i;
    if (transcript && !raw.startsWith("$ ") && pending === undefined) {
      for (const command of last) command.output!.push(raw);
      return;
    }
    const text = transcript && pending === undefined ? raw.slice(2) : raw;
    const joined = pending === undefined ? { text, line } : { text: `${pending.text} ${text}`, line: pending.line };
    if (/\\$/.test(joined.text)) {
      pending = { text: joined.text.slice(0, -1), line: joined.line };
      return;
    }
    pending = undefined;
    last = splitCommands(joined.text).map((words) => ({ where: `${file}:${joined.line}`, words, output: transcript ? [] : undefined }));
    commands.push(...last);
  });
  return commands;
}

/**
 * The simple commands of one line, as words: quotes removed, `#` comments dropped, split at
 * `&&`, `||`, `;`, `|` and `&`, leading `NAME=value` assignments taken off.
 */
export function splitCommands(line: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  const endWord = () => {
    if (word !== undefined) commands.at(-1)!.push(word);
    word = undefined;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) word = (word ?? "") + line[++i];
      else word = (word ?? "") + c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (c === "\\" && i + 1 < line.length) {
      word = (word ?? "") + line[++i];
    } else if (/\s/.test(c)) {
      endWord();
    } else if (c === "#" && word === undefined) {
      break;
    } else if (c === "&" || c === ";" || c === "|") {
      endWord();
      if (line[i + 1] === c) i++;
      commands.push([]);
    } else {
      word = (word ?? "") + c;
    }
  }
  endWord();
  const assignment = /^[A-Za-z_][A-Za-z0-9_]*=/;
  return commands
    .map((words) => {
      const first = words.findIndex((w) => !assignment.test(w));
      return first < 0 ? [] : words.slice(first);
    })
    .filter((words) => words.length > 0);
}

/** A documented value that stands for one the reader supplies: `$PORT`, `"$TOKEN"`, `…`, `<path>`. */
export function isPlaceholder(value: string): boolean {
  return value.includes("$") || value.includes("…") || /<[^>]+>/.test(value);
}
