import { randomUUID } from "node:crypto";

/**
 * A new random id such as `ro-3f9c0a1b2d4e5f60`: the prefix tells what it names; 64 random bits
 * make collisions negligible for any realistic number of rollouts.
 */
export function newId(prefix: "ro" | "at" | "rs"): string {
  const uuid = randomUUID();
  return `${prefix}-${uuid.slice(0, 8)}${uuid.slice(9, 13)}${uuid.slice(14, 18)}`;
}
