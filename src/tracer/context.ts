import { AsyncLocalStorage } from "node:async_hooks";
import type { Layer } from "../types/index.js";
import type { ActiveSpan } from "./active-span.js";
import type { TraceState } from "./trace-state.js";

/**
 * What the tracer knows at any point of an agent's execution. Frames are immutable: entering a
 * span, an agent or a suppression creates a new frame for the code inside, so concurrent rollouts
 * (and concurrent branches of one rollout) never see each other's state.
 */
export interface ContextFrame {
  readonly trace: TraceState;
  /** The innermost open span: the parent of the next span. */
  readonly span: ActiveSpan;
  /** The agent every span created here belongs to (`withAgent`, or a framework's agent). */
  readonly agentName: string | undefined;
  /**
   * A layer that must not record here because an outer layer records the same call — e.g. the
   * fetch wrapper inside an openai SDK call, which the SDK patch already records in full.
   */
  readonly suppressed: Layer | undefined;
}

// One store per process, even if two copies of tracetrain are loaded (say, src and dist in one
// test run): a rollout traced through one copy stays visible to the other's instrumentation.
const STORAGE_KEY = Symbol.for("tracetrain.context");
const holder = globalThis as { [STORAGE_KEY]?: AsyncLocalStorage<ContextFrame> };
const storage: AsyncLocalStorage<ContextFrame> = (holder[STORAGE_KEY] ??= new AsyncLocalStorage<ContextFrame>());

/** The frame of the code running now, or undefined outside any traced rollout. */
export function currentFrame(): ContextFrame | undefined {
  return storage.getStore();
}

/** Runs `fn` (and everything it starts: awaits, timers, emitters) inside `frame`. */
export function runInFrame<T>(frame: ContextFrame, fn: () => T): T {
  return storage.run(frame, fn);
}

/** A diagnostics channel, as far as binding a store to it goes (`node:diagnostics_channel`'s `Channel`). */
export interface StoreBindingChannel {
  bindStore(store: AsyncLocalStorage<ContextFrame>, transform: (message: unknown) => ContextFrame | undefined): void;
  unbindStore(store: AsyncLocalStorage<ContextFrame>): boolean;
}

/**
 * Makes code a diagnostics channel runs for a message (`channel.runStores(message, fn)`, a tracing
 * channel's `start`) run in the frame `transform` returns for it — called in the publisher's
 * context, so `currentFrame()` there is the outer frame. Returns the function that unbinds it.
 * `transform` must not throw: Node reports a throwing transform as an uncaught exception.
 */
export function bindFrames(channel: StoreBindingChannel, transform: (message: unknown) => ContextFrame | undefined): () => void {
  channel.bindStore(storage, transform);
  return () => void channel.unbindStore(storage);
}

/** Runs `fn` with `layer` suppressed, when inside a trace; otherwise just runs it. */
export function withSuppressed<T>(layer: Layer, fn: () => T): T {
  const frame = storage.getStore();
  return frame ? storage.run({ ...frame, suppressed: layer }, fn) : fn();
}

/**
 * Runs `fn` outside any traced rollout — for the tracer's own work (delivering spans), so that
 * its HTTP calls are never themselves recorded into the rollout that triggered them.
 */
export function outsideTrace<T>(fn: () => T): T {
  return storage.exit(fn);
}
