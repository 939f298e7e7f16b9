import type BetterSqlite3 from "better-sqlite3";
import { ValidationError } from "../../types/index.js";
import { requirePackage } from "../../util/index.js";
import { BetterSqlite3Driver } from "./better-sqlite3-driver.js";
import type { SqliteDriver, SqliteDriverName } from "./driver.js";
import { NodeSqliteDriver, nodeSqlite } from "./node-sqlite-driver.js";

const NODE_SQLITE_NEEDS = "Node 22.16 or later (or 24)";

let betterSqlite3: typeof BetterSqlite3 | undefined;

/** Opens `filename` with the chosen binding; `"auto"` is {@link defaultSqliteDriver}. */
export function openSqliteDriver(filename: string, choice: SqliteDriverName | "auto"): SqliteDriver {
  const driver = choice === "auto" ? defaultSqliteDriver() : choice;
  if (driver === "better-sqlite3") return new BetterSqlite3Driver(filename, loadBetterSqlite3(choice === "auto"));
  const module = nodeSqlite();
  if (!module) {
    throw new ValidationError("SqliteStore options", [
      { path: "driver", message: `"node:sqlite" needs ${NODE_SQLITE_NEEDS}; this is Node ${process.version}. Use "better-sqlite3" (npm install better-sqlite3)` },
    ]);
  }
  return new NodeSqliteDriver(filename, module);
}

/**
 * The binding `driver: "auto"` picks: the built-in node:sqlite wherever Node has a usable one —
 * nothing to install or compile, and as fast as better-sqlite3 for this store (`npm run bench --
 * store`) — else better-sqlite3.
 */
export function defaultSqliteDriver(): SqliteDriverName {
  return nodeSqlite() ? "node:sqlite" : "better-sqlite3";
}

/** better-sqlite3 from the application's node_modules, its native binary checked once per process. */
function loadBetterSqlite3(chosenForYou: boolean): typeof BetterSqlite3 {
  betterSqlite3 ??= requirePackage<typeof BetterSqlite3>("better-sqlite3", chosenForYou ? `SqliteStore on Node ${process.version}` : "SqliteStore's better-sqlite3 driver", {
    ...(chosenForYou ? { alternative: `or run on ${NODE_SQLITE_NEEDS}, where SqliteStore uses the built-in node:sqlite` } : {}),
    // The native binary loads with the first database: a missing or mismatched build fails here, not later.
    check: (Database) => new Database(":memory:").close(),
  });
  return betterSqlite3;
}
