/**
 * The contract every instrumentation implements, and the process-wide registry that installs each
 * one at most once. Hooks are global (a patched SDK prototype, a wrapped `fetch`) but record into
 * whichever rollout is current where the call happens, so any number of Tracers can share them.
 */
import type { CaptureIssueInput } from "../types/index.js";

/**
 * Whether an instrumentation could hook what it instruments, and what it already knows it will
 * miss (`issues`: a copy of the package it could not patch, an OTel set-up it could not join).
 * The tracer lists those issues in every trace report.
 */
export type InstallResult = { installed: true; issues?: CaptureIssueInput[] } | { installed: false; reason: string; issues?: CaptureIssueInput[] };

export interface Instrumentation {
  /** Unique short name: a built-in's is the option that turns it on or off (`openai`, `fetch`, `langchain`, …). */
  readonly name: string;
  /** Installs the hooks. Resolves `{installed: false, reason}` when the package it hooks is absent. */
  install(): Promise<InstallResult>;
  /** Removes the hooks, restoring what was there before. */
  uninstall(): void;
}

interface Installed {
  instrumentation: Instrumentation;
  result: InstallResult;
  users: number;
}

const installed = new Map<string, Installed>();

/** Installs `instrumentation` unless one of that name is already installed (then shares it, and its result). */
export async function acquire(instrumentation: Instrumentation): Promise<InstallResult> {
  const existing = installed.get(instrumentation.name);
  if (existing) {
    existing.users++;
    return existing.result;
  }
  const result = await instrumentation.install();
  if (result.installed) installed.set(instrumentation.name, { instrumentation, result, users: 1 });
  return result;
}

/** Gives up one use of the instrumentation `name`; the last user's release uninstalls it. */
export function release(name: string): void {
  const entry = installed.get(name);
  if (!entry || --entry.users > 0) return;
  installed.delete(name);
  entry.instrumentation.uninstall();
}

/** Names of the instrumentations installed now. */
export function installedInstrumentations(): string[] {
  return [...installed.keys()];
}
