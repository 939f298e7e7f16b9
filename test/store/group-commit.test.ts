import { describe, expect, it } from "vitest";
import { GroupCommit } from "../../src/store/sqlite/group-commit.js";
import { openSqliteDriver } from "../../src/store/sqlite/open-driver.js";
import { usableSqliteDrivers } from "./helpers.js";

for (const driver of usableSqliteDrivers()) {
  describe(`GroupCommit (${driver})`, () => {
    function open() {
      const db = openSqliteDriver(":memory:", driver);
      db.exec(`CREATE TABLE parent (id INTEGER PRIMARY KEY);
               CREATE TABLE item (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE,
                                  parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
               PRAGMA foreign_keys = ON;`);
      const insert = db.prepare("INSERT INTO item (v, parent) VALUES (?, ?)");
      const select = db.prepare("SELECT v FROM item ORDER BY id");
      const values = () => (select.all() as Array<{ v: string }>).map((row) => row.v);
      return { db, insert, values, group: new GroupCommit(db) };
    }

    it("commits the calls of one event-loop turn together, in call order, and acknowledges after the commit", async () => {
      const { insert, values, group } = open();
      let transactions = 0;
      const calls = ["a", "b", "c"].map((v) =>
        group.run(() => {
          transactions++;
          return Number(insert.run(v, null).changes);
        }),
      );
      expect(values()).toEqual([]);
      expect(await Promise.all(calls)).toEqual([1, 1, 1]);
      expect(values()).toEqual(["a", "b", "c"]);
      expect(transactions).toBe(3);
    });

    it("rolls back only the call that threw", async () => {
      const { insert, values, group } = open();
      const good = group.run(() => insert.run("a", null));
      const bad = group.run(() => {
        insert.run("b", null);
        insert.run("a", null); // UNIQUE violation: this call's "b" must go too
      });
      const after = group.run(() => insert.run("c", null));
      await expect(good).resolves.toBeDefined();
      await expect(bad).rejects.toThrow(/UNIQUE/);
      await expect(after).resolves.toBeDefined();
      expect(values()).toEqual(["a", "c"]);
    });

    it("rejects every call of the group, keeping nothing, when the commit itself fails", async () => {
      const { insert, values, group } = open();
      const fine = group.run(() => insert.run("a", null));
      const poison = group.run(() => insert.run("b", 42)); // deferred foreign key: fails only at COMMIT
      await expect(fine).rejects.toThrow(/FOREIGN KEY/);
      await expect(poison).rejects.toThrow(/FOREIGN KEY/);
      expect(values()).toEqual([]);
      // The engine keeps working afterwards.
      await group.run(() => insert.run("c", null));
      expect(values()).toEqual(["c"]);
    });

    it("commits pending calls on flush()", async () => {
      const { insert, values, group } = open();
      const pending = group.run(() => insert.run("a", null));
      group.flush();
      expect(values()).toEqual(["a"]);
      await pending;
    });

    it("nests: a savepoint inside a transaction undoes only its own work", () => {
      const { db, insert, values } = open();
      db.transaction(
        () => {
          insert.run("outer", null);
          expect(() =>
            db.transaction(() => {
              insert.run("inner", null);
              throw new Error("undo the inner one");
            }),
          ).toThrow("undo the inner one");
        },
        { immediate: true },
      );
      expect(values()).toEqual(["outer"]);
    });
  });
}
