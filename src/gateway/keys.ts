/**
 * Per-rollout API keys. An agent given a scoped key can call the gateway only under its own
 * rollout attempt's prefix, so one leaked or misbehaving agent cannot record into — or spend the
 * budget of — another rollout. A key is an HMAC of the attempt under the gateway token: anyone
 * holding the token (the trainer, a runner) can mint keys, and the gateway checks them without
 * storing anything.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Scope } from "./scope.js";

const PREFIX = "ttk_";

/** The key that lets an agent call the gateway for this rollout attempt (and nothing else). */
export function scopedKey(token: string, scope: Pick<Scope, "rolloutId" | "attemptId">): string {
  return PREFIX + mac(token, scope).toString("base64url");
}

/** Whether `presented` is the scoped key of this rollout attempt, in constant time. */
export function isScopedKeyFor(presented: string, token: string, scope: Pick<Scope, "rolloutId" | "attemptId">): boolean {
  if (!presented.startsWith(PREFIX)) return false;
  const given = Buffer.from(presented.slice(PREFIX.length), "base64url");
  const expected = mac(token, scope);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function mac(token: string, scope: Pick<Scope, "rolloutId" | "attemptId">): Buffer {
  // A newline cannot occur in an id, so distinct (rollout, attempt) pairs never sign the same text.
  return createHmac("sha256", token).update(`tracetrain-gateway\n${scope.rolloutId}\n${scope.attemptId}`).digest();
}
