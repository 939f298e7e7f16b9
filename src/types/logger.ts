import { z } from "zod";

/**
 * Where tracetrain reports things that must not interrupt the caller (a failing event listener,
 * a watchdog sweep that hit an error). Pass your own to route them into your logging.
 */
export interface Logger {
  debug(message: string, context?: Record<string, unknown>): void;
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
}

const LOGGER_METHODS = ["debug", "info", "warn", "error"] as const;

/** Whether `value` has a Logger's four methods: a structural check, so any logging library's adapter fits. */
export function isLogger(value: unknown): value is Logger {
  if (typeof value !== "object" || value === null) return false;
  return LOGGER_METHODS.every((method) => typeof (value as Record<string, unknown>)[method] === "function");
}

/** A `logger` field of an options schema (add `.default(() => consoleLogger)` where there is one). */
export const LoggerSchema = z.custom<Logger>(isLogger, "expected a Logger: an object with debug(), info(), warn() and error()");

const write =
  (level: "warn" | "error") =>
  (message: string, context?: Record<string, unknown>): void => {
    // Looked up at call time, so a console replaced later (tests, log shippers) is honoured.
    if (context === undefined) console[level](`[tracetrain] ${level} ${message}`);
    else console[level](`[tracetrain] ${level} ${message}`, context);
  };

/** Logs warnings and errors to the console; debug and info are dropped. */
export const consoleLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: write("warn"),
  error: write("error"),
};

/**
 * Structured logs: one JSON object per line on stderr (`{time, level, message, ...context}`), for
 * log shippers. Errors in the context are written as `{name, message, stack}`.
 */
export function jsonLogger(options: { level?: "debug" | "info" | "warn" | "error"; write?: (line: string) => void } = {}): Logger {
  const levels = ["debug", "info", "warn", "error"] as const;
  const threshold = levels.indexOf(options.level ?? "info");
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const log = (level: (typeof levels)[number]) => (message: string, context?: Record<string, unknown>) => {
    if (levels.indexOf(level) < threshold) return;
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(context ?? {})) {
      fields[key] = value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
    }
    let line: string;
    try {
      line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
    } catch {
      line = JSON.stringify({ time: new Date().toISOString(), level, message, context: "[not serializable]" });
    }
    write(`${line}\n`);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}
