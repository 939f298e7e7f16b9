/**
 * Dangerous shell in a string: recursive forced `rm` of the root, the home directory or a
 * top-level system directory; a download piped into a shell; `chmod 777`; a fork bomb; `mkfs`;
 * `dd` writing to a device. Near misses stay quiet: `rm -rf ./build`, `rm -r /tmp/x`, `chmod 755`,
 * `dd of=/dev/null`.
 */

/** One dangerous command found. */
export interface ShellHit {
  what: string;
  /** Where in the text it starts and ends. */
  start: number;
  end: number;
}

/** Paths whose recursive removal destroys a system or a home. */
const PRECIOUS = /^(?:\/|\/\*|~|~\/|~\/\*|\$HOME|\$\{HOME\}|\$HOME\/|\$HOME\/\*|\/(?:bin|boot|dev|etc|home|lib|lib64|opt|root|sbin|srv|sys|usr|var)\/?\*?)$/;
/** A command ends at a separator or a newline. */
const SEPARATOR = /[;&|\n]/g;
/** How much of a command line is read after `rm`: longer lines are cut, so hostile text stays linear. */
const MAX_COMMAND = 4096;

const PATTERNS: Array<{ what: string; pattern: RegExp }> = [
  { what: "download piped into a shell", pattern: /\b(?:curl|wget)\b[^;&|\n]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:ba|z|da|k|fi)?sh\b/g },
  { what: "download run by a shell", pattern: /\b(?:ba|z)?sh\s+(?:-c\s+)?["']?\s*(?:<\(|\$\()\s*(?:curl|wget)\b/g },
  { what: "chmod 777", pattern: /\bchmod\s+(?:-\S+\s+)*(?:0?777|a\+rwx|ugo\+rwx)\b/g },
  { what: "fork bomb", pattern: /(?<![\w:])(\w+|:)\s*\(\s*\)\s*\{\s*\1\s*\|\s*\1\s*&\s*\}\s*;\s*\1/g },
  { what: "mkfs", pattern: /(?:^|[;&|\n(`]|\bsudo\s+)\s*mkfs(?:\.\w+)?\s+\S/gm },
  { what: "dd onto a device", pattern: /\bdd\b[^;&|\n]*\bof=\/dev\/(?!null\b|zero\b|stdout\b|stderr\b|fd\/)\w/g },
];

/** Dangerous commands in `text`. */
export function dangerousShell(text: string): ShellHit[] {
  const hits: ShellHit[] = [...recursiveRemovals(text)];
  for (const { what, pattern } of PATTERNS) {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) hits.push({ what, start: m.index, end: m.index + m[0].length });
  }
  return hits;
}

/** `rm` with both recursive and force flags (in any spelling) and a precious target. */
function recursiveRemovals(text: string): ShellHit[] {
  const hits: ShellHit[] = [];
  const rm = /(?:^|[\s;&|(`])rm\s/g;
  // One pass for the separators: matches come in order, so the next separator only moves forward.
  SEPARATOR.lastIndex = 0;
  let sep = SEPARATOR.exec(text);
  for (let m = rm.exec(text); m !== null; m = rm.exec(text)) {
    const start = m.index + m[0].indexOf("rm");
    while (sep !== null && sep.index < start + 3) sep = SEPARATOR.exec(text);
    const command = text.slice(start + 3, Math.min(sep === null ? text.length : sep.index, start + 3 + MAX_COMMAND));
    const words = command.split(/\s+/).filter((w) => w.length > 0).map((w) => w.replace(/^["']|["']$/g, ""));
    const flags = words.filter((w) => w.startsWith("-"));
    const recursive = flags.some((f) => f === "--recursive" || (/^-[a-zA-Z]+$/.test(f) && /[rR]/.test(f)));
    const force = flags.some((f) => f === "--force" || (/^-[a-zA-Z]+$/.test(f) && f.includes("f")));
    const target = words.find((w) => !w.startsWith("-") && PRECIOUS.test(w));
    if (recursive && force && target !== undefined) hits.push({ what: `rm -rf ${target}`, start, end: start + 3 + command.length });
    // A later `rm` in the same command was read with this one (its words are in `command`).
    rm.lastIndex = Math.max(rm.lastIndex, start + 3 + command.length);
  }
  return hits;
}
