/**
 * The option fields every tracetrain server shares — the store server, the LLM gateway, the RL
 * backend server — and the one way they are checked, so a bind beyond loopback without a token
 * is refused alike everywhere. Each server documents the fields in its own schema.
 */
import { z } from "zod";
import { parseOrThrow } from "../types/index.js";
import { checkExposure } from "./http-common.js";

export const listenerFields = {
  host: z.string().min(1).default("127.0.0.1"),
  port: (fallback: number) => z.number().int().min(0).max(65535).default(fallback),
  token: z.string().min(1, "must not be empty: leave it out to serve without a token").optional(),
  insecure: z.boolean().default(false),
  bodyLimitBytes: (fallback: number) => z.number().int().min(1).max(2 ** 31).default(fallback),
};

/** Parses a server's options, then refuses a non-loopback bind that has neither a token nor `insecure`. */
export function parseListenerOptions<S extends z.ZodType<{ host: string; token?: string | undefined; insecure: boolean }>>(schema: S, options: unknown, what: string): z.output<S> {
  const parsed = parseOrThrow(schema, options, `${what} options`);
  checkExposure(what, parsed.host, parsed.token, parsed.insecure);
  return parsed;
}
