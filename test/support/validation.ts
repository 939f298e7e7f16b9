/** Catching the ValidationError a bad option must raise, for tests of options schemas. */
import { expect } from "vitest";
import { ValidationError } from "tracetrain";

/** The ValidationError `fn` throws; fails the test when it throws anything else, or nothing. */
export function validationError(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error("expected a ValidationError");
}

/** The ValidationError `promise` rejects with; fails the test when it resolves or rejects otherwise. */
export async function rejectedWith(promise: Promise<unknown>): Promise<ValidationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

/** Whether every issue is about `field` or something inside it (`field.x`, `field[0]`). */
export function namesOnly(error: ValidationError, field: string): boolean {
  return error.issues.length > 0 && error.issues.every((i) => i.path === field || i.path.startsWith(`${field}.`) || i.path.startsWith(`${field}[`));
}
