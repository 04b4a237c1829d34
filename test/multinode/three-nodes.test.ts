import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '../helpers/client.js';
import { startBackend, type TestBackend } from './backends.js';
import { claimsOf, startNode, type Node } from './nodes.js';

/*
 * Three Frontdesk processes on one PostgreSQL + Redis, as a load balancer would
 * spread a user over them. Every promise of API.md must hold across nodes.
 */

const PASSWORD = 'correct horse battery';
let backend: TestBackend;
let nodes: [Node, Node, Node];
let n = 0;
const uniq = (p: string): string => `${p}${++n}_${Date.now().toString(36)}`;

before(async () => {
  backend = await startBackend('postgres+redis');
  // The first node alone creates the signing key; the others then load it (see the report on concurrent first starts).
  const first = await startNode('n1', backend.env);
  const rest = await Promise.all(['n2', 'n3'].map((name) => startNode(name, backend.env)));
  nodes = [first, rest[0]!, rest[1]!];
});
after(async () => {
  await Promise.all((nodes ?? []).map((node) => node.stop()));
  await backend?.stop();
});

async function register(on: Node): Promise<string> {
  const username = uniq('user');
  const r = await new Client(on.url).post('/auth/register', { username, password: PASSWORD });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return username;
}

async function login(on: Node, username: string, mode: 'session' | 'jwt' | 'hybrid', extra: Record<string, unknown> = {}) {
  const c = new Client(on.url);
  const r = await c.post<{ access_token?: string; refresh_token?: string }>('/auth/login', { username, password: PASSWORD, mode, ...extra });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { c, token: r.body.access_token, refresh: r.body.refresh_token };
}

/** A client for `node` holding the same cookies as `from`: the same browser, routed elsewhere. */
function sameBrowser(from: Client, node: Node): Client {
  const c = new Client(node.url);
  for (const [k, v] of from.jar) c.jar.set(k, v);
  return c;
}

void describe('three nodes on one PostgreSQL + Redis', () => {
  void it('a session made on node 1 works on node 2', async () => {
    const username = await register(nodes[0]);
    const { c } = await login(nodes[0], username, 'session');
    const me = await sameBrowser(c, nodes[1]).get<{ user: { username: string } }>('/auth/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.user.username, username);
  });

  void it('a logout on node 2 is refused by node 3 on the very next request', async () => {
    const username = await register(nodes[1]);
    const { c } = await login(nodes[0], username, 'session');
    const on3 = sameBrowser(c, nodes[2]);
    assert.equal((await on3.get('/auth/me')).status, 200);
    const out = await sameBrowser(c, nodes[1]).post('/auth/logout', undefined, { csrf: true });
    assert.equal(out.status, 204);
    assert.equal((await on3.get('/auth/me')).status, 401);
  });

  void it('a JWT logged out on node 1 is refused by nodes 2 and 3 within 100 ms', async () => {
    const username = await register(nodes[0]);
    const { c, token } = await login(nodes[0], username, 'jwt');
    // Warm both verifiers (token cache and user cache), as a busy node would be.
    for (const node of [nodes[1], nodes[2]]) assert.equal((await new Client(node.url).get('/auth/me', { bearer: token! })).status, 200);

    let stop = false;
    let answeredAt = Infinity;
    const firstRefusal = (node: Node): Promise<number> =>
      (async () => {
        const client = new Client(node.url);
        while (!stop) {
          const r = await client.get('/auth/me', { bearer: token! });
          if (r.status === 401) return performance.now();
          assert.equal(r.status, 200);
        }
        return Infinity;
      })();
    const watching = [firstRefusal(nodes[1]), firstRefusal(nodes[2])];
    await new Promise((r) => setTimeout(r, 20));
    const sentAt = performance.now();
    const out = await c.post('/auth/logout', undefined, { bearer: token! });
    answeredAt = performance.now();
    assert.equal(out.status, 204);
    const timeout = setTimeout(() => (stop = true), 2000);
    const refusedAt = await Promise.all(watching);
    clearTimeout(timeout);
    stop = true;
    const lags = refusedAt.map((t) => t - answeredAt);
    console.log(
      `# propagation of a JWT logout from node 1 (logout answered in ${(answeredAt - sentAt).toFixed(1)} ms): ` +
        `refused by node 2 after ${lags[0]?.toFixed(1)} ms, node 3 after ${lags[1]?.toFixed(1)} ms (from the logout's answer)`,
    );
    for (const lag of lags) assert.ok(lag < 100, `refused within 100 ms of the logout (took ${lag} ms)`);
  });

  void it('leaves one live lineage after 50 concurrent refreshes of one token sent to three nodes', async () => {
    const username = await register(nodes[0]);
    const { refresh, token } = await login(nodes[0], username, 'hybrid', { refresh_in_body: true });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => new Client(nodes[i % 3]!.url).post<{ refresh_token?: string; access_token?: string }>('/auth/refresh', { refresh_token: refresh })),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      Array.from({ length: 50 }, () => 200),
    );
    const successors = new Set(results.map((r) => r.body.refresh_token));
    assert.equal(successors.size, 1, 'every duplicate got the same successor: no fork');
    const next = [...successors][0]!;
    const sid = claimsOf(token!)['sid'];
    for (const r of results) assert.equal(claimsOf(r.body.access_token!)['sid'], sid);
    const sessions = await new Client(nodes[2].url).get<{ sessions: { id: string }[] }>('/auth/sessions', { bearer: results[0]!.body.access_token! });
    assert.deepEqual(
      sessions.body.sessions.map((s) => s.id),
      [sid],
    );
    const again = await new Client(nodes[1].url).post<{ refresh_token?: string }>('/auth/refresh', { refresh_token: next });
    assert.equal(again.status, 200, 'the one lineage goes on');
  });

  void it('serves a burst of JWT-only requests with no Redis command per request', async () => {
    const username = await register(nodes[0]);
    const { token } = await login(nodes[0], username, 'jwt');
    for (const node of nodes) assert.equal((await new Client(node.url).get('/auth/me', { bearer: token! })).status, 200);
    const redis = backend.redis!;
    const calls = async (): Promise<Map<string, number>> => {
      const info = await redis.cli('INFO', 'commandstats');
      return new Map([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
    };
    const before = await calls();
    const requests = 600;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 6 }, async (_, w) => {
        const client = new Client(nodes[w % 3]!.url);
        for (let i = 0; i < requests / 6; i++) assert.equal((await client.get('/auth/me', { bearer: token! })).status, 200);
      }),
    );
    const ms = performance.now() - t0;
    const afterCalls = await calls();
    const grew = [...afterCalls].map(([cmd, c]) => [cmd, c - (before.get(cmd) ?? 0)] as const).filter(([, d]) => d > 0);
    const total = grew.reduce((sum, [, d]) => sum + d, 0);
    console.log(`# ${requests} JWT-only requests in ${Math.round(ms)} ms over 3 nodes: Redis commands meanwhile ${total} (${grew.map(([c, d]) => `${c} ${d}`).join(', ')})`);
    // What remains is the nodes' feed readers (one XREAD each per 2 s when idle) and our own INFO.
    assert.ok(total < requests / 20, `Redis commands did not grow with requests (${total} for ${requests} requests)`);
  });
});
