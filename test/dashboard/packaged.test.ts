/**
 * The dashboard as the package ships it: `npm run build`'s two steps (tsup, then the dashboard
 * build into dist/dashboard/) into a scratch folder, and the built server finding the dashboard
 * beside its own chunks with no option given.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "tsup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOptions } from "../../tsup.config.js";
import { buildDashboardInto } from "./support.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const outDir = join(root, "test", ".tmp", `dist-dashboard-${process.pid}`);
let printed = "";

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  await build({ ...buildOptions, entry: { server: "src/entries/server.ts", store: "src/entries/store.ts" }, outDir, dts: false, config: false, silent: true });
  printed = buildDashboardInto(join(outDir, "dashboard"));
}, 120_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe("the built dashboard", () => {
  it("is served by the built startStoreServer from dist/dashboard/ by default", async () => {
    const { startStoreServer } = (await import(join(outDir, "server.js"))) as typeof import("tracetrain/server");
    const { MemoryStore } = (await import(join(outDir, "store.js"))) as typeof import("tracetrain/store");
    const store = new MemoryStore();
    const server = await startStoreServer({ store, port: 0 });
    try {
      const page = await fetch(`${server.url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toBe(readFileSync(join(root, "src", "dashboard", "index.html"), "utf8"));
      const main = await fetch(`${server.url}/dashboard/main.js`);
      expect(main.status).toBe(200);
      expect(await main.text()).toBe(readFileSync(join(outDir, "dashboard", "main.js"), "utf8"));
    } finally {
      await server.close();
      await store.close();
    }
  });

  it("reports the size of what it built, which stays small (no library in the browser bundle)", () => {
    const match = /dashboard: (\d+) files, ([\d.]+) KiB/.exec(printed);
    expect(match).not.toBeNull();
    console.log(printed.trim());
    expect(Number(match![2])).toBeLessThan(100);
  });
});
