import type pg from "pg";

/**
 * One transaction on a pooled connection in pg's pipeline mode.
 *
 * On a busy machine every round trip to PostgreSQL costs a context switch on each side, and those,
 * not the SQL, dominated the engine's cost. In pipeline mode a statement is written as soon as it
 * is issued, behind any still unanswered, and PostgreSQL answers in order. So `BEGIN` travels with
 * the first statement, `COMMIT` with the last write ({@link commitWith}), and statements that do
 * not depend on each other's results can share a round trip: a typical store call takes two round
 * trips instead of four or five.
 *
 * Every statement sent is tracked, so none is left unanswered when the connection goes back to the
 * pool, and none that fails unobserved can let the transaction commit.
 */
export class PipelinedTransaction {
  private readonly sent: Array<Promise<unknown>> = [];
  private ended = false;

  constructor(private readonly client: pg.PoolClient) {
    this.send("BEGIN");
  }

  /** Sends a statement now, without waiting for those sent before it. */
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    return this.send<R>(config);
  }

  /** Sends the transaction's last statement and `COMMIT` together; resolves once both succeeded. */
  async commitWith<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    const result = this.send<R>(config);
    await this.commit();
    return result;
  }

  /**
   * Commits, unless {@link commitWith} already did. Fails if any statement sent in this transaction
   * failed: PostgreSQL answers `COMMIT` in an aborted transaction by rolling back, without an error.
   */
  async commit(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await Promise.all([...this.sent, this.send("COMMIT")]);
  }

  /** After a failure: lets every statement sent settle, then rolls back (a no-op if nothing is open). */
  async rollback(): Promise<void> {
    this.ended = true;
    await Promise.allSettled(this.sent);
    await this.client.query("ROLLBACK");
  }

  private send<R extends pg.QueryResultRow>(config: pg.QueryConfig | string): Promise<pg.QueryResult<R>> {
    const result = this.client.query<R>(config);
    // Marks the rejection handled: whoever awaits the statement, or commit(), still sees it.
    result.catch(() => undefined);
    this.sent.push(result);
    return result;
  }
}
