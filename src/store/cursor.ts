import { ValidationError } from "../types/index.js";

/** The values a keyset cursor remembers: the sort key of the last item returned and its tie-breakers. */
export type CursorValues = ReadonlyArray<string | number | null>;

/** An opaque, URL-safe cursor. Callers must treat it as a token and pass it back unchanged. */
export function encodeCursor(values: CursorValues): string {
  return Buffer.from(JSON.stringify(values), "utf8").toString("base64url");
}

/** The error for a cursor that this query did not issue. */
export function foreignCursor(): ValidationError {
  return new ValidationError("cursor", [{ path: "cursor", message: "is not a cursor issued for this query; pass nextCursor back unchanged" }]);
}

/**
 * Decodes a cursor issued by {@link encodeCursor} with `shape` describing each position
 * (`"number"`, `"int"` for a non-negative safe integer, `"string"`, or `"number?"` for a number
 * that may be null). Anything else — a
 * cursor from another query, tampered with, or garbage — is a ValidationError, never a crash.
 */
export function decodeCursor(cursor: string, shape: ReadonlyArray<"number" | "int" | "string" | "number?">): Array<string | number | null> {
  const invalid = foreignCursor;
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(values) || values.length !== shape.length) throw invalid();
  values.forEach((value: unknown, i) => {
    const expected = shape[i];
    const ok =
      expected === "string"
        ? typeof value === "string"
        : expected === "int"
          ? Number.isSafeInteger(value) && (value as number) >= 0
          : typeof value === "number"
            ? Number.isFinite(value)
            : expected === "number?" && value === null;
    if (!ok) throw invalid();
  });
  return values as Array<string | number | null>;
}
