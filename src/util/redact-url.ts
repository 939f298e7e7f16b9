/**
 * A URL as it may be shown — in logs, errors, metrics, span attributes, listings — with its
 * userinfo (`user:password@`, or a token passed as the user name) replaced by `***`. Text that
 * does not parse as a URL is masked the same way by pattern, so a mistyped URL leaks nothing either.
 */
export function redactUrl(url: string | URL): string {
  const text = String(url);
  if (!URL.canParse(text)) return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1***@");
  const parsed = new URL(text);
  if (parsed.username === "" && parsed.password === "") return text;
  parsed.username = "***";
  parsed.password = "";
  return parsed.href;
}
