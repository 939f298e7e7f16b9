/**
 * `tracetrain/postgres`: {@link PostgresStore}, the scale-out store. Needs the `pg` package
 * (`npm install pg`), loaded when a PostgresStore is constructed — never by importing tracetrain.
 *
 * @packageDocumentation
 */
export { PostgresStore, type PostgresStoreOptions, type PostgresPoolOptions, type PostgresSslOptions } from "../store/index.js";
