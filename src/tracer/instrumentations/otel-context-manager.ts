import { AsyncLocalStorage } from "node:async_hooks";
import type { Context, ContextManager } from "@opentelemetry/api";

/**
 * An OTel context manager on AsyncLocalStorage, registered by the otel instrumentation when the
 * process has none. Without one, OTel's `context.with()` is a no-op: the AI SDK's `doGenerate`
 * spans would never see `generateText` as their parent. It is ours rather than
 * `@opentelemetry/context-async-hooks` so the instrumentation needs nothing beyond the API and
 * the SDK the user already has.
 *
 * Unlike context-async-hooks it does not patch EventEmitters in `bind()`: listeners run in the
 * context they were registered in (AsyncLocalStorage already gives that for most emitters).
 */
export class AsyncLocalStorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();

  constructor(private readonly root: Context) {}

  active(): Context {
    return this.storage.getStore() ?? this.root;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(context, () => fn.apply(thisArg, args));
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== "function") return target;
    // Runs the function in `context` whenever and wherever it is called later.
    const run = (self: unknown, args: unknown[]): unknown => this.storage.run(context, () => (target as (...a: unknown[]) => unknown).apply(self, args));
    return function bound(this: unknown, ...args: unknown[]) {
      return run(this, args);
    } as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}
