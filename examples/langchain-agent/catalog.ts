/** The shop's catalogue and the two tools the agent looks it up with. */
import { readFileSync } from "node:fs";
import { tool } from "langchain";
import { z } from "zod";

export interface Product {
  sku: string;
  name: string;
  price: number;
  salePrice: number | null;
  stock: number;
  warrantyYears: number;
  /** The SKU to suggest when this one is out of stock. */
  alternative: string;
}

const ProductSchema = z.object({
  sku: z.string(),
  name: z.string(),
  price: z.number(),
  salePrice: z.number().nullable(),
  stock: z.number().int().min(0),
  warrantyYears: z.number().int().min(0),
  alternative: z.string(),
});

export const CATALOG: readonly Product[] = z.array(ProductSchema).parse(JSON.parse(readFileSync(new URL("./data/catalog.json", import.meta.url), "utf8")));

/** The words that identify a product; a question's other words ("how", "much", "the") never match a name. */
export function words(text: string): string[] {
  return text.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 0);
}

/** Products whose name shares words with the query, best match first (most shared words, then the tightest name). */
export function search(query: string): Array<Pick<Product, "sku" | "name" | "price">> {
  const asked = new Set(words(query));
  return CATALOG.map((p) => {
    const name = words(p.name);
    const shared = name.filter((w) => asked.has(w)).length;
    return { p, shared, share: shared / name.length };
  })
    .filter((m) => m.shared > 0)
    .sort((a, b) => b.shared - a.shared || b.share - a.share)
    .slice(0, 3)
    .map(({ p }) => ({ sku: p.sku, name: p.name, price: p.price }));
}

/** A product's full record, with its alternative's name spelled out. */
export function record(sku: string): (Product & { alternativeName: string }) | undefined {
  const product = CATALOG.find((p) => p.sku === sku.trim().toUpperCase());
  if (product === undefined) return undefined;
  const alternativeName = CATALOG.find((p) => p.sku === product.alternative)?.name ?? "";
  return { ...product, alternativeName };
}

export const searchCatalog = tool(async ({ query }: { query: string }) => JSON.stringify(search(query)), {
  name: "search_catalog",
  description: "Search the shop's catalogue by product name. Returns up to 3 matches as JSON: sku, name and list price.",
  schema: z.object({ query: z.string().describe("words of the product name") }),
});

export const getProduct = tool(
  async ({ sku }: { sku: string }) => {
    const found = record(sku);
    return found === undefined ? `No product with SKU ${sku}.` : JSON.stringify(found);
  },
  {
    name: "get_product",
    description: "The full record of one product by SKU, as JSON: list price, sale price, stock, warranty in years and the alternative to suggest.",
    schema: z.object({ sku: z.string().describe("the product's SKU, e.g. TR-100") }),
  },
);

export const TOOLS = [searchCatalog, getProduct];
