import { closeSync, openSync, writeSync } from 'node:fs';
import type pg from 'pg';

/** What one `COPY ... TO STDOUT` wrote. */
export interface CopyOutResult {
  /** Rows PostgreSQL reported (`COPY n`). */
  rows: number;
  /** The last row's bytes as sent (the text up to its first delimiter is its first column). */
  last: Buffer | undefined;
}

/** Bytes gathered before one write to the file. */
const BUFFER = 4 << 20;

/**
 * A `COPY (SELECT ...) TO STDOUT` run on `client`, its rows written to `file` as they arrive
 * (node-postgres has no COPY support of its own: this is the query object it accepts for
 * custom protocols, as pg-copy-streams is). PostgreSQL formats the rows (e.g. CSV) once, and
 * nothing is parsed in JS: the reader of the file (DuckDB's CSV reader) types them in bulk.
 * COPY takes no bind parameters: `sql` must quote its literals itself.
 */
export function copyOut(client: pg.ClientBase, sql: string, file: string): Promise<CopyOutResult> {
  return new Promise((resolve, reject) => {
    const fd = openSync(file, 'w');
    let closed = false;
    // The parser hands out views of its own buffer, reused for the next message: each row is
    // copied into this buffer, written out when full.
    const buffer = Buffer.allocUnsafe(BUFFER);
    let used = 0;
    let rows = 0;
    // The last row: copied when it did not go through the buffer, else where it starts in it.
    let last: Buffer | undefined;
    let lastAt = -1;
    let failed: unknown;
    const flush = () => {
      let off = 0;
      while (off < used) off += writeSync(fd, buffer, off, used - off);
      used = 0;
    };
    const close = () => {
      if (closed) return;
      closed = true;
      closeSync(fd);
    };
    const fail = (err: unknown) => {
      failed ??= err;
      close();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const query = {
      submit(connection: { query(text: string): void }) {
        connection.query(sql);
      },
      handleCopyData(msg: { chunk: Buffer }) {
        if (failed !== undefined) return;
        const chunk = msg.chunk;
        try {
          if (used + chunk.length > BUFFER) flush();
          if (chunk.length > BUFFER) {
            let off = 0;
            while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
            last = Buffer.from(chunk);
          } else {
            last = undefined;
            lastAt = used;
            chunk.copy(buffer, used);
            used += chunk.length;
          }
        } catch (err) {
          fail(err);
        }
      },
      handleCommandComplete(msg: { text?: string }) {
        const m = /^COPY (\d+)/.exec(msg.text ?? '');
        rows = m ? Number(m[1]) : 0;
      },
      handleReadyForQuery() {
        if (failed !== undefined) return;
        try {
          if (last === undefined && lastAt >= 0) last = Buffer.from(buffer.subarray(lastAt, used));
          flush();
          close();
          resolve({ rows, last });
        } catch (err) {
          fail(err);
        }
      },
      handleError(err: unknown) {
        fail(err);
      },
      handleRowDescription() {},
      handleDataRow() {},
      handleEmptyQuery() {},
      handlePortalSuspended() {},
      handleCopyInResponse(connection: { sendCopyFail(msg: string): void }) {
        connection.sendCopyFail('copyOut only reads');
      },
    };
    // node-postgres runs any object with `submit` as a query (its Submittable).
    void (client.query as unknown as (q: unknown) => unknown)(query);
  });
}
