import type * as Vitest from "vitest";

/** Asserts that a promise rejects with an instance of a class, and returns the error for further checks. */
export type RejectionAssertion = <E extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E) => Promise<E>;

/** The conformance suites' assertion on errors, bound to the caller's `expect` (tracetrain does not depend on vitest). */
export function rejectionAssertion(expect: (typeof Vitest)["expect"]): RejectionAssertion {
  return async (promise, type) => {
    let outcome: unknown;
    try {
      await promise;
    } catch (error) {
      outcome = error;
    }
    expect(outcome, `expected a ${type.name}`).toBeInstanceOf(type);
    return outcome as never;
  };
}
