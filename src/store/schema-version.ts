import { ConflictError } from "../types/index.js";

/**
 * The error every SQL engine gives for a database whose schema is newer than this code: opening it
 * anyway could misread or damage data written by the newer version, so the store refuses.
 */
export function newerSchemaError(current: number, supported: number): ConflictError {
  return new ConflictError(
    `this database has schema version ${current}, newer than this tracetrain understands (${supported}); upgrade tracetrain`,
    { schemaVersion: current, supported },
  );
}
