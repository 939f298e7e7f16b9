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
  (sink: (...args: unknown[]) => void, level: string) =>
  (message: string, context?: Record<string, unknown>): void => {
    if (context === undefined) sink(`[tracetrain] ${level} ${message}`);
    else sink(`[tracetrain] ${level} ${message}`, context);
  };

/** Logs warnings and errors to the console; debug and info are dropped. */
export const consoleLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: write(console.warn, "warn"),
  error: write(console.error, "error"),
};
