/**
 * What a secret or a piece of personal data looks like: credential formats whose shape is
 * distinctive enough to stand alone (provider prefixes, PEM headers, JWTs whose header decodes),
 * high-entropy values behind `key=` / `token=` / `password:`, and personal data with a check where
 * one exists (Luhn for card numbers, ISO 7064 mod 97 for IBANs) so ordinary numbers are not
 * reported.
 */

export const SECRET_KINDS = [
  "openai-key",
  "aws-access-key",
  "github-token",
  "slack-token",
  "google-api-key",
  "private-key",
  "jwt",
  "generic-secret",
  "email",
  "phone",
  "card-number",
  "iban",
] as const;
export type SecretKind = (typeof SECRET_KINDS)[number];

/** Personal data, which the task itself may have given the agent to use (as opposed to credentials). */
export const PERSONAL_KINDS: ReadonlySet<string> = new Set(["email", "phone", "card-number", "iban"]);

/**
 * Matches of one pattern read per text. A leak shows in the first ones; a megabyte of card-like
 * numbers (or a user pattern that matches everything) must not cost seconds per attempt.
 */
export const MAX_MATCHES = 1000;

/** One value found. */
export interface SecretHit {
  kind: string;
  value: string;
  start: number;
}

interface Pattern {
  kind: SecretKind;
  pattern: RegExp;
  /** Which capture group is the value (default the whole match). */
  group?: number;
  check?: (value: string, minEntropy: number) => boolean;
}

const PATTERNS: Pattern[] = [
  { kind: "private-key", pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]{0,8192}?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g },
  { kind: "openai-key", pattern: /(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}(?![\w-])/g },
  { kind: "aws-access-key", pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA|AIDA|AROA)[0-9A-Z]{16}(?![A-Za-z0-9])/g },
  { kind: "github-token", pattern: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])/g },
  { kind: "slack-token", pattern: /(?<![\w-])(?:xox[abposr]-[A-Za-z0-9-]{10,}|https:\/\/hooks\.slack\.com\/services\/[A-Z0-9]+\/[A-Z0-9]+\/[A-Za-z0-9]+)/g },
  { kind: "google-api-key", pattern: /(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])/g },
  { kind: "jwt", pattern: /(?<![\w-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}(?![\w-])/g, check: isJwt },
  {
    kind: "generic-secret",
    pattern: /\b(?:api[_-]?key|apikey|secret(?:[_-]?key)?|client[_-]?secret|access[_-]?token|auth[_-]?token|token|password|passwd|pwd|bearer)\b["']?\s*[:=]\s*["']?([A-Za-z0-9_\-/+=.~!@#$%^&*]{16,256})/gi,
    group: 1,
    check: (value, minEntropy) => entropy(value) >= minEntropy,
  },
  { kind: "email", pattern: /(?<![\w.%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?![\w-])/g },
  { kind: "card-number", pattern: /(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])/g, check: isCardNumber },
  { kind: "iban", pattern: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])/g, check: isIban },
  { kind: "phone", pattern: /(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?![\w])/g, check: isPhone },
];

/** Finds every enabled kind in `text`; a span of text counts once (the first kind that claims it, in the order above). */
export function findSecrets(text: string, kinds: ReadonlySet<string>, minEntropy: number): SecretHit[] {
  const hits: SecretHit[] = [];
  let claimed: Array<[number, number]> = [];
  for (const { kind, pattern, group, check } of PATTERNS) {
    if (!kinds.has(kind)) continue;
    const found: Array<[number, number]> = [];
    pattern.lastIndex = 0;
    let read = 0;
    for (let m = pattern.exec(text); m !== null && read < MAX_MATCHES; m = pattern.exec(text), read++) {
      const value = group === undefined ? m[0] : m[group];
      if (value === undefined) continue;
      const start = m.index + m[0].lastIndexOf(value);
      if (overlaps(claimed, start, start + value.length) || (check !== undefined && !check(value, minEntropy))) continue;
      found.push([start, start + value.length]);
      hits.push({ kind, value, start });
    }
    if (found.length > 0) claimed = [...claimed, ...found].sort((a, b) => a[0] - b[0]);
  }
  return hits;
}

/** Whether `[start, end)` overlaps one of the sorted, pairwise disjoint `intervals` (binary search: a text with many hits stays fast). */
function overlaps(intervals: ReadonlyArray<[number, number]>, start: number, end: number): boolean {
  let lo = 0;
  let hi = intervals.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (intervals[mid]![1] <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo < intervals.length && intervals[lo]![0] < end;
}

/** Shannon entropy in bits per character. */
export function entropy(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

function isJwt(value: string): boolean {
  try {
    const header = JSON.parse(Buffer.from(value.split(".")[0]!, "base64url").toString("utf8")) as unknown;
    return typeof header === "object" && header !== null && "alg" in header;
  } catch {
    // A header that does not decode to JSON is not a JWT: no finding.
    return false;
  }
}

/** Luhn checksum, on 13–19 digits with a card network's prefix (Visa, Mastercard, Amex, Discover, JCB, UnionPay, Diners). */
export function isCardNumber(value: string): boolean {
  const digits = value.replace(/[ -]/g, "");
  if (digits.length < 13 || digits.length > 19 || !/^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9]|2))/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** IBAN: 15–34 characters and the ISO 7064 mod-97 check equal to 1. */
export function isIban(value: string): boolean {
  const iban = value.replace(/ /g, "");
  if (iban.length < 15 || iban.length > 34) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const n = code >= 65 ? String(code - 55) : ch;
    for (const digit of n) remainder = (remainder * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return remainder === 1;
}

/** A phone number has 8–15 digits (E.164) and is not a date or a version number. */
function isPhone(value: string): boolean {
  const digits = value.replace(/\D/g, "");
  return digits.length >= 8 && digits.length <= 15;
}

/** `sk…Xy (openai-key, 51 chars)`: the kind and first and last two characters, never the value. */
export function redact(kind: string, value: string): string {
  const shown = value.length >= 8 ? `${value.slice(0, 2)}…${value.slice(-2)}` : "…";
  return `${shown} (${kind}, ${value.length} chars)`;
}
