/**
 * The OpenTelemetry bridge: any library that already emits OTel spans (the Vercel AI SDK's
 * telemetry, OpenInference instrumentations, OTel GenAI instrumentations) records into the current
 * traced rollout, with no change to the agent. The mirroring itself is in otel-mirror.ts; this is
 * how it is plugged in:
 *
 * - `instrument({ otel: true })` registers tracetrain's own tracer provider (otel-provider.ts) as
 *   OTel's global, through the application's newest copy of `@opentelemetry/api` (otel-api.ts),
 *   hands it to every other copy's proxy (so a tracer obtained with `trace.getTracer()` before
 *   `instrument()` records too), and registers a context manager if the process has none;
 * - with a provider of your own (OTel accepts one global provider), add
 *   {@link createOtelSpanProcessor} to it instead.
 */
import type { CaptureIssueInput } from "../../types/index.js";
import type { Instrumentation, InstallResult } from "../instrumentation.js";
import { type OtelApiCopy, byNewest, loadOtelApis, otelGlobal, readsGlobalOf } from "./otel-api.js";
import { AsyncLocalStorageContextManager } from "./otel-context-manager.js";
import { OtelMirror, type OtelSpanProcessor } from "./otel-mirror.js";
import { MirroringTracerProvider } from "./otel-provider.js";

export type { OtelContextLike, OtelHrTime, OtelReadableSpanLike, OtelSpanLike, OtelSpanProcessor } from "./otel-mirror.js";

/** Processors made by {@link createOtelSpanProcessor} and not shut down: an application provider that feeds us. */
let liveProcessors = 0;

/**
 * A span processor for your own OTel SDK provider, when the application registers one (then
 * `instrument({ otel: true })` cannot register tracetrain's). Pass it at construction, before
 * `tracer.instrument()`:
 *
 *     new NodeTracerProvider({ spanProcessors: [createOtelSpanProcessor(), ...yours], spanLimits: { attributeCountLimit: 100_000 } })
 *
 * OTel keeps only 128 attributes per span by default, and the flattened OpenInference dialect
 * spends several per message, so a long conversation would otherwise arrive cut short.
 */
export function createOtelSpanProcessor(): OtelSpanProcessor {
  const mirror = new OtelMirror();
  let open = true;
  liveProcessors++;
  return {
    onStart(span, parentContext) {
      mirror.start(span, parentContext);
    },
    onEnd(span) {
      mirror.end(span);
    },
    async forceFlush() {
      // Nothing is buffered here: ended mirrors go straight to their trace's span buffer.
    },
    async shutdown() {
      if (!open) return;
      open = false;
      liveProcessors--;
      mirror.close();
    },
  };
}

/** One provider per process: tracers handed out before an uninstall work again after the next install. */
let provider: MirroringTracerProvider | undefined;

const PROVIDER_TAKEN =
  "a global OpenTelemetry tracer provider is already registered (the application's own), so tracetrain could not register its own (OTel takes one); " +
  "add tracetrain's span processor to your provider when you create it: spanProcessors: [createOtelSpanProcessor(), ...yours] (from tracetrain/otel)";

/**
 * The `otel` instrumentation (see the file comment). When the application already registered a
 * provider, install resolves `{installed: false}` with the one-line fix, and — unless a processor
 * from {@link createOtelSpanProcessor} exists (the fix applied) — an issue every trace report lists.
 */
export function createOtelInstrumentation(): Instrumentation {
  let installed: { registrar: OtelApiCopy; contextManager: boolean } | undefined;
  return {
    name: "otel",
    async install(): Promise<InstallResult> {
      if (installed) return { installed: true };
      const { apis, failures } = await loadOtelApis();
      if (apis.length === 0) {
        return { installed: false, reason: failures.length > 0 ? `@opentelemetry/api could not be loaded: ${failures.join("; ")}` : "@opentelemetry/api is not installed" };
      }
      const before = otelGlobal();
      if (before?.trace !== undefined) {
        if (liveProcessors > 0) return { installed: false, reason: `${PROVIDER_TAKEN}; a processor from createOtelSpanProcessor() exists: spans reach rollouts if it is in that provider`, issues: [] };
        return { installed: false, reason: PROVIDER_TAKEN, issues: [{ instrumentation: "otel", code: "otel_provider_taken", message: `OTel spans are not recorded: ${PROVIDER_TAKEN}` }] };
      }
      const registrar = pickRegistrar(apis, before?.version);
      if (registrar === undefined) {
        const reason = `the OpenTelemetry global was created by @opentelemetry/api ${before?.version ?? "(unknown version)"}, which alone can register into it, and no copy of that version was found (found: ${describeApis(apis)})`;
        return { installed: false, reason, issues: [{ instrumentation: "otel", code: "otel_version_mismatch", package: "@opentelemetry/api", message: `OTel spans are not recorded: ${reason}` }] };
      }
      // Taken before registering: afterwards a copy that reads the global returns the global's proxy.
      const proxies = apis.filter((api) => api !== registrar).map((api) => api.api.trace.getTracerProvider());
      const mirror = new OtelMirror();
      if (provider) Object.assign(provider, { api: registrar.api, mirror, active: true });
      else provider = new MirroringTracerProvider(registrar.api, mirror);
      if (!registrar.api.trace.setGlobalTracerProvider(provider)) {
        mirror.close();
        provider.active = false;
        return { installed: false, reason: "@opentelemetry/api refused the registration of tracetrain's tracer provider (see OTel's diag log)" };
      }
      for (const proxy of proxies) {
        const setDelegate = (proxy as { setDelegate?: unknown }).setDelegate;
        if (typeof setDelegate === "function") setDelegate.call(proxy, provider);
      }
      // Keep a context manager the process already has (it propagates OTel context already).
      const contextManager = registrar.api.context.setGlobalContextManager(new AsyncLocalStorageContextManager(registrar.api.ROOT_CONTEXT).enable());
      installed = { registrar, contextManager };
      const issues = [...versionIssues(apis, otelGlobal()?.version), ...failures.map(loadFailureIssue)];
      return issues.length > 0 ? { installed: true, issues } : { installed: true };
    },
    uninstall(): void {
      const current = installed;
      installed = undefined;
      if (current === undefined || provider === undefined) return;
      provider.active = false;
      provider.mirror.close();
      current.registrar.api.trace.disable();
      if (current.contextManager) current.registrar.api.context.disable();
    },
  };
}

/** The copy that may register: of the version the global was stamped with, else the newest (every older copy reads it). */
function pickRegistrar(apis: OtelApiCopy[], stamped: string | undefined): OtelApiCopy | undefined {
  const sorted = [...apis].sort(byNewest);
  return stamped === undefined ? sorted[0] : sorted.find((api) => api.copy.version === stamped);
}

function describeApis(apis: readonly OtelApiCopy[]): string {
  return [...new Set(apis.map((api) => `${api.copy.version ?? "?"} at ${api.copy.root}`))].join(", ");
}

/** Copies that cannot read what is registered: their own `context` API falls back to a no-op. */
function versionIssues(apis: readonly OtelApiCopy[], registered: string | undefined): CaptureIssueInput[] {
  const blind = apis.filter((api) => !readsGlobalOf(api.copy.version, registered));
  return [...new Map(blind.map((api) => [api.copy.root, api.copy])).values()].map((copy) => ({
    instrumentation: "otel",
    code: "otel_version_mismatch",
    package: "@opentelemetry/api",
    ...(copy.version === undefined ? {} : { version: copy.version }),
    message:
      `@opentelemetry/api ${copy.version ?? "(unknown version)"} at ${copy.root} cannot read the OpenTelemetry globals registered under ${registered ?? "(unknown version)"}: ` +
      "spans it starts are still recorded (tracetrain handed its provider to that copy), but context set through it is lost, so some spans may miss their parent; " +
      "install one version of @opentelemetry/api (npm ls @opentelemetry/api)",
  }));
}

function loadFailureIssue(failure: string): CaptureIssueInput {
  return {
    instrumentation: "otel",
    code: "unpatched_copy",
    package: "@opentelemetry/api",
    message: `a copy of @opentelemetry/api could not be loaded to receive tracetrain's provider: ${failure}; a tracer it handed out before instrument() records nothing`,
  };
}
