import { z } from "zod";
import { parseOrThrow } from "../../types/index.js";

/**
 * A schema name: lower-case SQL identifiers only, so they need no case folding and fit
 * PostgreSQL's 63-byte limit; `pg_` names are PostgreSQL's own.
 */
export const SchemaNameSchema = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, "expected 1-63 characters of a-z, 0-9 and _, not starting with a digit")
  .refine((name) => !name.startsWith("pg_"), 'names starting with "pg_" are reserved by PostgreSQL');

/**
 * Checks a schema name and returns it quoted for SQL. The schema is the only thing ever
 * interpolated into SQL text (identifiers cannot be bind parameters); every value goes through
 * parameters. The pattern leaves nothing that could close the quotes.
 */
export function quoteSchema(schema: string): string {
  return `"${parseOrThrow(z.strictObject({ schema: SchemaNameSchema }), { schema }, "PostgreSQL schema name").schema}"`;
}
