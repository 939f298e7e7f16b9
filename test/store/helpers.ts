import { expect } from "vitest";
import type { AttemptRef, AttemptedRollout, SpanInput } from "../../src/index.js";

let counter = 0;

/** A fresh, valid hex id of `length` characters (never all zeros). */
export function hexId(length: 16 | 32): string {
  counter++;
  return counter.toString(16).padStart(length, "0");
}

/** A valid span for an attempt, with unique ids; `overrides` replace any field. */
export function makeSpan(target: AttemptedRollout | AttemptRef, overrides: Partial<SpanInput> = {}): SpanInput {
  const ref = "attempt" in target ? target.attempt : target;
  const now = Date.now();
  return {
    rolloutId: ref.rolloutId,
    attemptId: ref.attemptId,
    traceId: hexId(32),
    spanId: hexId(16),
    name: "test.span",
    startTime: now,
    endTime: now + 1,
    ...overrides,
  };
}

/** Asserts that `promise` rejects with an instance of `type`, and returns the error for further checks. */
export async function expectCode<E extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  let outcome: unknown;
  try {
    await promise;
  } catch (error) {
    outcome = error;
  }
  expect(outcome, `expected a ${type.name}`).toBeInstanceOf(type);
  return outcome as E;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A promise with its resolve function (Promise.withResolvers needs Node 22). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
