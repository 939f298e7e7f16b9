/** The store over HTTP: the wire protocol (routes, bodies, query strings) and {@link HttpStore}, its client. */
export { HttpStore, type HttpStoreOptions } from "./http-store.js";
export * from "./protocol.js";
