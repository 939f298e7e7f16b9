/** What `new SqliteStore(path, {...})` accepts, as one zod schema. */
import { z } from "zod";
import { parseOrThrow } from "../../types/index.js";
import { storeOptionsShape } from "../options.js";
import { SQLITE_DRIVERS } from "./driver.js";

export const SqliteStoreOptionsSchema = z.strictObject({
  ...storeOptionsShape,
  /**
   * `"normal"`: a committed call survives a crash of the process; with WAL this costs no fsync per
   * call. `"full"`: it also survives power loss, at the price of an fsync per commit.
   * @default "normal"
   */
  durability: z.enum(["normal", "full"]).default("normal"),
  /**
   * The SQLite binding. `"auto"`: the built-in `node:sqlite` where Node has it (22.16 and later,
   * 24), else the `better-sqlite3` package (Node 20). Either one reads the other's files.
   * @default "auto"
   */
  driver: z.enum(["auto", ...SQLITE_DRIVERS]).default("auto"),
  /**
   * Open only a store that is already there: a missing file, or one that holds no tracetrain
   * store, is a `NotFoundError` (entity `"store"`) instead of a new empty database. For readers
   * such as `tracetrain export`, where a mistyped path must not pass for an empty store.
   * @default false
   */
  mustExist: z.boolean().default(false),
});

export type SqliteStoreOptions = z.input<typeof SqliteStoreOptionsSchema>;
export type ParsedSqliteStoreOptions = z.output<typeof SqliteStoreOptionsSchema>;

export function parseSqliteStoreOptions(options: SqliteStoreOptions | undefined): ParsedSqliteStoreOptions {
  return parseOrThrow(SqliteStoreOptionsSchema, options ?? {}, "SqliteStore options");
}
