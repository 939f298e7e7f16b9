/**
 * The application's copies of `@opentelemetry/api`, and OTel's rules for sharing its globals.
 *
 * Every copy keeps its registrations (tracer provider, context manager) in one global object
 * under `Symbol.for("opentelemetry.js.api.1")`, stamped with the version of the copy that created
 * it. A copy registers only into an object of its own exact version, and reads only an object of
 * its own minor version or a newer one: so the copy that registers must be the newest the
 * application loads (or the one of the version already stamped), else newer copies see nothing.
 *
 * Each copy also has a proxy provider of its own: `trace.getTracer()` called before any
 * registration returns a `ProxyTracer` bound to it, which starts delegating once a provider is
 * set on that proxy — and only the registering copy's proxy gets it. So the other copies' proxies
 * are handed the provider too (`setDelegate`, their public API), or tracers obtained at module load
 * would record nothing.
 */
import type * as OtelApi from "@opentelemetry/api";
import { OTEL_GLOBAL_KEY } from "./otel-mirror.js";
import { type PackageCopy, describeCopy, findPackageCopies, isCommonJsLoaded, loadBuild } from "./package-copies.js";

const PACKAGE = "@opentelemetry/api";
/** Packages that bring a copy of their own (`@ai-sdk/otel` pins one, for one). */
const DEPENDENTS = ["ai", "@ai-sdk/otel", "@opentelemetry/sdk-trace-base", "@opentelemetry/sdk-node", "@vercel/otel"];

/** One loaded copy of the API (a package copy's ESM or CommonJS build: 1.10 ships both, 1.9 one). */
export interface OtelApiCopy {
  readonly copy: PackageCopy;
  readonly api: typeof OtelApi;
}

/** What is registered in the global object, if anything. */
export interface OtelGlobal {
  version: string | undefined;
  trace: unknown;
  context: unknown;
}

export function otelGlobal(): OtelGlobal | undefined {
  const registered = (globalThis as { [OTEL_GLOBAL_KEY]?: Record<string, unknown> })[OTEL_GLOBAL_KEY];
  if (typeof registered !== "object" || registered === null) return undefined;
  return { version: typeof registered.version === "string" ? registered.version : undefined, trace: registered.trace, context: registered.context };
}

function isOtelApi(value: unknown): value is typeof OtelApi {
  const api = value as Partial<typeof OtelApi> | undefined;
  return typeof api?.trace?.setGlobalTracerProvider === "function" && typeof api.context?.setGlobalContextManager === "function";
}

/** Every build of every copy the application can load, each once (a 1.9 copy's ESM import is its CommonJS module). */
export async function loadOtelApis(): Promise<{ apis: OtelApiCopy[]; failures: string[] }> {
  const apis: OtelApiCopy[] = [];
  const failures: string[] = [];
  const seen = new Set<unknown>();
  for (const copy of findPackageCopies(PACKAGE, DEPENDENTS)) {
    for (const format of isCommonJsLoaded(copy) ? (["esm", "cjs"] as const) : (["esm"] as const)) {
      try {
        const api: unknown = await loadBuild(copy, ".", format);
        if (!isOtelApi(api) || seen.has(api.trace)) continue;
        seen.add(api.trace);
        apis.push({ copy, api });
      } catch (error) {
        failures.push(`${describeCopy(copy)}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
      }
    }
  }
  return { apis, failures };
}

interface Version {
  major: number;
  minor: number;
  patch: number;
  prerelease: boolean;
}

function parse(version: string | undefined): Version | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)(-.+)?$/.exec(version ?? "");
  return match ? { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), prerelease: match[4] !== undefined } : undefined;
}

/** Whether a copy of version `own` reads globals registered by `registered` (the API's `isCompatible`). */
export function readsGlobalOf(own: string | undefined, registered: string | undefined): boolean {
  if (own === registered) return true;
  const [a, b] = [parse(own), parse(registered)];
  if (!a || !b || a.prerelease || b.prerelease || a.major !== b.major) return false;
  if (a.major === 0) return a.minor === b.minor && a.patch <= b.patch;
  return a.minor <= b.minor;
}

/** Newest first; unknown versions last. */
export function byNewest(a: OtelApiCopy, b: OtelApiCopy): number {
  const [x, y] = [parse(a.copy.version), parse(b.copy.version)];
  if (!x || !y) return x ? -1 : y ? 1 : 0;
  return y.major - x.major || y.minor - x.minor || y.patch - x.patch;
}
