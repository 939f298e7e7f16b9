/**
 * How the `tracetrain` command reports a failure: one line on stderr, exit 2 for what the user can
 * fix (a mistyped option, a port in use, a path that cannot be created, a store that is not there
 * or cannot be reached, an agent module that cannot be found) and exit 1 for the rest. Stack
 * traces only with `--debug` or `TRACETRAIN_DEBUG=1`.
 */
import { MissingDependencyError, NotFoundError, StoreUnavailableError, TracetrainError, ValidationError } from "../types/index.js";

/** A mistake on the command line; the report adds where the command's help is. */
export class UsageError extends ValidationError {
  constructor(option: string, message: string) {
    super("command line", [{ path: option, message }]);
  }
}

/** A condition of this machine the user can fix (a file that cannot be opened, say), already explained. */
export class CommandError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CommandError";
  }
}

/** What to print and the exit code. */
export interface Failure {
  exitCode: 1 | 2;
  message: string;
}

const DEBUG_HINT = "run again with --debug (or TRACETRAIN_DEBUG=1) for the stack trace";

/** The one-line report of `error`, thrown while running `tracetrain COMMAND` (`command` as typed, e.g. "store serve"). */
export function describeFailure(error: unknown, command: string | undefined): Failure {
  const help = command === undefined ? "tracetrain --help" : `tracetrain ${command} --help`;
  if (error instanceof UsageError) return { exitCode: 2, message: `${error.message} (see ${help})` };
  if (error instanceof CommandError || error instanceof ValidationError || error instanceof StoreUnavailableError || error instanceof MissingDependencyError) {
    return { exitCode: 2, message: error.message };
  }
  if (error instanceof NotFoundError && error.entity === "store") return { exitCode: 2, message: error.message };
  if (error instanceof TracetrainError) return { exitCode: 1, message: error.code === "internal" ? `${error.message} (${DEBUG_HINT})` : error.message };
  const system = describeSystemError(error);
  if (system !== undefined) return { exitCode: 2, message: system };
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { exitCode: 1, message: `unexpected error: ${text} (${DEBUG_HINT})` };
}

/** `error.stack`, and the stack of each cause below it, for `--debug`. */
export function stackOf(error: unknown): string {
  const lines: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; e = e instanceof Error ? e.cause : undefined, depth++) {
    lines.push(depth === 0 ? "" : "caused by:", e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e));
  }
  return lines.filter((line) => line !== "").join("\n");
}

interface SystemError {
  code?: unknown;
  syscall?: unknown;
  path?: unknown;
  address?: unknown;
  port?: unknown;
  message?: unknown;
}

const REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOTDIR: "a part of the path is not a directory",
  EISDIR: "it is a directory",
  EEXIST: "it already exists",
  ENOSPC: "no space left on the device",
  ENAMETOOLONG: "the name is too long",
  ELOOP: "too many symbolic links",
};

const ACTIONS: Record<string, string> = { open: "open", mkdir: "create the folder", scandir: "read the folder", stat: "find", unlink: "remove", rename: "rename" };

/** Node's errors for the common system conditions, in words; undefined for anything else. */
function describeSystemError(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, syscall, path, address, port, message } = error as SystemError;
  if (typeof code !== "string") return undefined;
  if (code === "ERR_MODULE_NOT_FOUND" || code === "ERR_UNKNOWN_FILE_EXTENSION") return String(message);
  if (syscall === "listen" || syscall === "bind") {
    const where = typeof port === "number" ? `${String(address)}:${port}` : String(address);
    if (code === "EADDRINUSE") return `cannot listen on ${where}: the port is already in use (stop what listens there, or pick another --port)`;
    if (code === "EADDRNOTAVAIL") return `cannot listen on ${where}: ${String(address)} is not an address of this machine (--host)`;
    if (code === "EACCES" || code === "EPERM") return `cannot listen on ${where}: permission denied (ports below 1024 need privileges; pick another --port)`;
    return undefined;
  }
  const reason = REASONS[code];
  if (reason === undefined || typeof path !== "string") return undefined;
  const action = typeof syscall === "string" ? (ACTIONS[syscall] ?? syscall) : "use";
  return `cannot ${action} ${path}: ${reason}`;
}
