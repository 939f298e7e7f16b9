/** RegExp helpers for user-supplied patterns and names built into patterns. */

/** `text` as a literal inside a RegExp. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A RegExp without the `g` and `y` flags, whose `test` and `exec` would otherwise depend on the previous call. */
export function stateless(re: RegExp): RegExp {
  return re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, "")) : re;
}
