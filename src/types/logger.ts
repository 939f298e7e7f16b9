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
