/** How deep a `cause` chain is followed: deep enough for openai → fetch → socket, short enough for a cycle. */
const MAX_DEPTH = 6;

/** An error and the errors it was caused by, outermost first. */
export function errorChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = error; e !== undefined && e !== null && chain.length < MAX_DEPTH && !chain.includes(e); e = (e as { cause?: unknown }).cause) {
    chain.push(e);
    if (typeof e !== "object") break;
  }
  return chain;
}

/**
 * The first system error code in the chain (`ECONNREFUSED`, `ENOTFOUND`, undici's
 * `UND_ERR_CONNECT_TIMEOUT`): fetch says only "fetch failed" and keeps the reason in its cause.
 * Lower-case codes (tracetrain's own) are not system codes and are skipped.
 */
export function errorCode(error: unknown): string | undefined {
  for (const e of errorChain(error)) {
    const code = typeof e === "object" ? (e as { code?: unknown }).code : undefined;
    if (typeof code === "string" && SYSTEM_CODE.test(code)) return code;
  }
  return undefined;
}

const SYSTEM_CODE = /^[A-Z][A-Z0-9_]+$/;

/**
 * One line naming every error of the chain, e.g. `APIConnectionError: Connection error. ← TypeError:
 * fetch failed ← Error: connect ECONNREFUSED 127.0.0.1:9`: the outermost message alone rarely says
 * what went wrong.
 */
export function describeErrorChain(error: unknown): string {
  return errorChain(error)
    .map((e) => (e instanceof Error ? `${errorName(e)}: ${e.message}` : String(e)).replace(/\s*\n\s*/g, " "))
    .join(" ← ");
}

/**
 * An error's class name: its `name`, or — when a library left that at the generic "Error" (the
 * openai SDK's `APIConnectionError`, `AuthenticationError`) — its constructor's name.
 */
export function errorName(error: Error): string {
  if (error.name !== "Error") return error.name;
  const constructorName = (error.constructor as { name?: unknown } | undefined)?.name;
  return typeof constructorName === "string" && constructorName !== "" ? constructorName : error.name;
}
