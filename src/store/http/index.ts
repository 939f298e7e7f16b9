/** The store over HTTP: the wire protocol (routes, bodies, query strings) and {@link HttpStore}, its client. */
export { HttpStore } from "./http-store.js";
export { type HttpStoreOptions, type ParsedHttpStoreOptions, HttpStoreOptionsSchema } from "./options.js";
export * from "./protocol.js";
