/**
 * Hosts of URLs in a string, checked against an allow-list. URLs are parsed with the WHATWG URL
 * parser, so `https://api.example.com@evil.test/`, `HTTPS://EVIL.TEST.`, percent-encoding and
 * internationalized look-alike hosts (which become `xn--…`) are read as a browser reads them.
 *
 * Allow-list entries: `example.com` allows that host only; `*.example.com` allows its subdomains
 * but not `example.com` itself; `.example.com` allows both. Nothing else is a wildcard.
 */

/** A URL whose host is not allowed. */
export interface HostHit {
  url: string;
  host: string;
  start: number;
  end: number;
}

const URL_PATTERN = /\b[a-z][a-z0-9+.-]{1,15}:\/\/[^\s"'<>`\\]+/gi;
const TRAILING = /[.,;:!?)\]}]+$/;

/** A compiled allow-list. */
export type HostAllowList = (host: string) => boolean;

/** Compiles allow-list entries (see the module comment); hosts are compared lower-case, without a trailing dot. */
export function hostAllowList(entries: readonly string[]): HostAllowList {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  const subdomainsOnly: string[] = [];
  for (const raw of entries) {
    const entry = canonicalHost(raw);
    if (entry.startsWith("*.")) subdomainsOnly.push(entry.slice(1));
    else if (entry.startsWith(".")) {
      exact.add(entry.slice(1));
      suffixes.push(entry);
    } else exact.add(entry);
  }
  return (host) => {
    const h = canonicalHost(host);
    return exact.has(h) || suffixes.some((s) => h.endsWith(s)) || subdomainsOnly.some((s) => h.endsWith(s) && h.length > s.length);
  };
}

/** Lower-case, trailing dot removed, IDN converted to ASCII (`xn--`) as the URL parser does. */
function canonicalHost(host: string): string {
  const lower = host.trim().toLowerCase().replace(/\.$/, "");
  const wildcard = lower.startsWith("*.") ? "*." : lower.startsWith(".") ? "." : "";
  const bare = lower.slice(wildcard.length);
  try {
    return wildcard + new URL(`http://${bare}`).hostname;
  } catch {
    // Not a host a URL can have: compared as written, so it simply never matches a parsed one.
    return lower;
  }
}

/** URLs in `text` whose host the allow-list does not allow (URLs that do not parse are skipped: no host, nothing to reach). */
export function disallowedHosts(text: string, allowed: HostAllowList, schemes: readonly string[]): HostHit[] {
  const hits: HostHit[] = [];
  URL_PATTERN.lastIndex = 0;
  for (let m = URL_PATTERN.exec(text); m !== null; m = URL_PATTERN.exec(text)) {
    const url = m[0].replace(TRAILING, "");
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      continue;
    }
    if (!schemes.includes(parsed.protocol.replace(/:$/, "").toLowerCase())) continue;
    const host = parsed.hostname.replace(/\.$/, "");
    if (host.length === 0 || allowed(host)) continue;
    hits.push({ url, host, start: m.index, end: m.index + url.length });
  }
  return hits;
}
