// The embedded server also listens on a Unix-domain socket in its cluster directory, and the
// platform's pool uses it (a round trip there costs both processes less CPU than loopback TCP);
// tools keep the TCP URL, and a server adopted from a crashed run keeps its socket.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { after } from 'node:test';
import { createDatabase } from '../../src/platform/db.js';
import { startEmbeddedPostgres, withDatabase } from '../../src/platform/embedded-postgres.js';

test('the embedded server answers on its socket and on TCP; an adopted one keeps the socket', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'embudo-sock-'));
  // As root the embedded server runs as `postgres`, which must be able to enter the directory.
  chmodSync(dir, 0o755);
  const server = await startEmbeddedPostgres({ dir: path.join(dir, 'pg') });
  after(async () => {
    await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  assert.ok(server.socketUrl, 'a socket URL for a short cluster path');
  assert.match(server.url, /@127\.0\.0\.1:\d+\//);

  const overSocket = createDatabase({ connectionString: withDatabase(server.socketUrl, 'postgres'), max: 1 });
  const overTcp = createDatabase({ connectionString: withDatabase(server.url, 'postgres'), max: 1 });
  try {
    // inet_server_addr() is NULL on a Unix-domain socket.
    assert.equal((await overSocket.query<{ a: string | null }>('SELECT inet_server_addr()::text AS a')).rows[0]?.a, null);
    assert.equal((await overTcp.query<{ a: string | null }>('SELECT inet_server_addr()::text AS a')).rows[0]?.a, '127.0.0.1/32');
  } finally {
    await overSocket.close();
    await overTcp.close();
  }

  const adopted = await startEmbeddedPostgres({ dir: path.join(dir, 'pg') });
  assert.equal(adopted.port, server.port);
  assert.equal(adopted.socketUrl, server.socketUrl);
});
