import { ValidationError } from "../../types/index.js";

/** Lower-case SQL identifiers only: they need no case folding and fit PostgreSQL's 63-byte limit. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks a schema name and returns it quoted for SQL. The schema is the only thing ever
 * interpolated into SQL text (identifiers cannot be bind parameters); every value goes through
 * parameters. The pattern leaves nothing that could close the quotes.
 */
export function quoteSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new ValidationError("PostgreSQL schema name", [
      { path: "schema", message: `expected 1-63 characters of a-z, 0-9 and _, not starting with a digit (got ${JSON.stringify(schema)})` },
    ]);
  }
  if (schema.startsWith("pg_")) {
    throw new ValidationError("PostgreSQL schema name", [{ path: "schema", message: `names starting with "pg_" are reserved by PostgreSQL (got "${schema}")` }]);
  }
  return `"${schema}"`;
}
