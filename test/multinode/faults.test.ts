import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type Res } from '../helpers/client.js';
import { startBackend, type TestBackend } from './backends.js';
import { claimsOf, startNode, type Node } from './nodes.js';

/*
 * Faults under load: three nodes on one PostgreSQL + Redis serve a steady burst
 * of registrations, logins, refreshes and token requests while Redis is
 * crashed and brought back, PostgreSQL is restarted, and one node is killed -9.
 * Clients behave like real ones: an unanswered or 503 request is retried (a
 * refresh with the same token), on another node if theirs died.
 *
 * Must hold: no 5xx but `503 unavailable`; every node recovers without a
 * restart; afterwards every user whose registration was answered exists, and
 * every family whose refresh was answered is intact (its last token refreshes).
 */

const PASSWORD = 'correct horse battery';
const ADMIN = 'faults-admin';
let backend: TestBackend;
let nodes: Node[];
let alive: Node[];

before(async () => {
  backend = await startBackend('postgres+redis');
  // The first node alone creates the signing key and the admin; the others then load them.
  const first = await startNode('n1', { ...backend.env, FRONTDESK_ADMIN_USERNAME: ADMIN, FRONTDESK_ADMIN_PASSWORD: PASSWORD });
  nodes = [first, ...(await Promise.all(['n2', 'n3'].map((name) => startNode(name, backend.env))))];
  alive = [...nodes];
});
after(async () => {
  await Promise.all((nodes ?? []).map((node) => node.stop()));
  await backend?.stop();
});

interface Tally {
  requests: number;
  byStatus: Map<number, number>;
  /** Responses that break the promise: a 5xx other than 503 unavailable, or an answer a healthy flow never gives. */
  bad: string[];
  /** Connection-level failures (the killed node): no answer, retried elsewhere. */
  unanswered: number;
  users: Set<string>;
  /** Family id → the last refresh token an answer handed out. */
  families: Map<string, string>;
}

const tally: Tally = { requests: 0, byStatus: new Map(), bad: [], unanswered: 0, users: new Set(), families: new Map() };
let turn = 0;
const pick = (): Node => alive[turn++ % alive.length]!;

/**
 * Sends one request to some live node until it is answered with something other
 * than 503, as a client behind a load balancer would; records every answer.
 */
async function call<T = Record<string, unknown>>(what: string, send: (c: Client) => Promise<Res<T>>, ok: (r: Res<T>) => boolean): Promise<Res<T>> {
  // A request that no node answers for this long is a failed recovery, not something to wait out.
  const giveUpAt = Date.now() + 20_000;
  for (let attempt = 0; ; attempt++) {
    if (Date.now() > giveUpAt) throw new Error(`${what}: no answer but 503 or a dropped connection for 20 s`);
    let r: Res<T>;
    try {
      r = await send(new Client(pick().url));
    } catch {
      tally.unanswered++;
      await sleep(20);
      continue;
    }
    tally.requests++;
    tally.byStatus.set(r.status, (tally.byStatus.get(r.status) ?? 0) + 1);
    const code = (r.body as { error?: { code?: string } } | undefined)?.error?.code;
    if (r.status === 503 && code === 'unavailable') {
      await sleep(Math.min(50 * (attempt + 1), 300));
      continue;
    }
    if (r.status >= 500 || !ok(r)) tally.bad.push(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  }
}

/** One simulated user: registers, signs in (hybrid), then refreshes and uses its token until told to stop. */
async function user(id: number, stop: { now: boolean }): Promise<void> {
  while (!stop.now) {
    const username = `u${id}_${Math.random().toString(36).slice(2, 10)}`;
    const reg = await call('register', (c) => c.post('/auth/register', { username, password: PASSWORD }), (r) => r.status === 201 || r.status === 409);
    // A 409 means an unanswered attempt got through first: the user exists either way.
    if (reg.status === 201 || reg.status === 409) tally.users.add(username);
    const login = await call<{ access_token?: string; refresh_token?: string }>(
      'login',
      (c) => c.post('/auth/login', { username, password: PASSWORD, mode: 'hybrid', refresh_in_body: true }),
      (r) => r.status === 200,
    );
    if (login.status !== 200) continue;
    let access = login.body.access_token!;
    let refresh = login.body.refresh_token!;
    const sid = String(claimsOf(access)['sid']);
    tally.families.set(sid, refresh);
    for (let i = 0; i < 8 && !stop.now; i++) {
      await call('me', (c) => c.get('/auth/me', { bearer: access }), (r) => r.status === 200);
      const r = await call<{ access_token?: string; refresh_token?: string }>(
        'refresh',
        (c) => c.post('/auth/refresh', { refresh_token: refresh }),
        (res) => res.status === 200,
      );
      if (r.status !== 200) break;
      access = r.body.access_token!;
      refresh = r.body.refresh_token!;
      tally.families.set(sid, refresh);
    }
  }
}

/** Polls every live node's /readyz until all say ready; answers how long that took. */
async function allReady(timeoutMs = 30_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const states = await Promise.all(alive.map((n) => fetch(`${n.url}/readyz`).then((r) => r.status, () => 0)));
    if (states.every((s) => s === 200)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`nodes not ready again after ${timeoutMs} ms: ${states.join(', ')}`);
    await sleep(50);
  }
}

void describe('faults under load on three nodes', () => {
  void it('survives a Redis crash, a PostgreSQL restart and a node killed -9, answering only 503 unavailable, and loses nothing answered', { timeout: 120_000 }, async () => {
    const stop = { now: false };
    const workers = Array.from({ length: 6 }, (_, i) =>
      user(i, stop).catch((e: unknown) => {
        // One stuck user stops them all, so the test fails instead of hanging.
        stop.now = true;
        throw e;
      }),
    );
    const log: string[] = [];
    const t0 = Date.now();
    const mark = (what: string): void => {
      log.push(`${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      console.log(`# ${log.at(-1)}`);
    };

    try {
      await sleep(1500);
      await backend.redis!.kill();
      mark('redis killed');
      await sleep(1500);
      await backend.redis!.restart();
      mark('redis restarted (empty)');
      mark(`all nodes ready ${await allReady()} ms later`);

      await sleep(1500);
      await backend.postgres!.restart();
      mark('postgres restarted');
      mark(`all nodes ready ${await allReady()} ms later`);

      await sleep(1500);
      const victim = alive.pop()!;
      await victim.kill();
      mark(`${victim.name} killed -9`);
      await sleep(1500);
    } catch (e) {
      for (const node of nodes) console.log(`--- ${node.name} output:\n${node.output().slice(-3000)}`);
      throw e;
    } finally {
      stop.now = true;
    }
    try {
      await Promise.all(workers);
    } catch (e) {
      for (const node of nodes) console.log(`--- ${node.name} output:\n${node.output().slice(-3000)}`);
      throw e;
    }
    console.log(
      `# faults: ${log.join('; ')}. ${tally.requests} answered requests ${JSON.stringify(Object.fromEntries(tally.byStatus))}, ` +
        `${tally.unanswered} unanswered (retried), ${tally.users.size} users, ${tally.families.size} families`,
    );
    assert.deepEqual(tally.bad, [], 'no 5xx but 503 unavailable, and no unexpected answer');
    assert.ok((tally.byStatus.get(503) ?? 0) > 0, 'the outages were felt (as 503)');
    assert.ok(tally.users.size >= 6 && tally.families.size >= 6);

    // Every answered user exists.
    const admin = new Client(nodes[0]!.url);
    const token = (await admin.post<{ access_token: string }>('/auth/login', { username: ADMIN, password: PASSWORD, mode: 'jwt' })).body.access_token;
    const listed = new Set<string>();
    for (let cursor: string | null = null; ; ) {
      const page: Res<{ users: { username: string }[]; next_cursor: string | null }> = await admin.get(
        `/admin/users?limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
        { bearer: token },
      );
      assert.equal(page.status, 200);
      for (const u of page.body.users) listed.add(u.username);
      if (page.body.next_cursor === null) break;
      cursor = page.body.next_cursor;
    }
    const missing = [...tally.users].filter((u) => !listed.has(u));
    assert.deepEqual(missing, [], 'every answered registration is a user');
    // …with its password intact (a sample: each check costs an Argon2 verify).
    for (const username of [...tally.users].slice(0, 5)) {
      const r = await new Client(nodes[1]!.url).post('/auth/login', { username, password: PASSWORD, mode: 'jwt' });
      assert.equal(r.status, 200, `${username} can still sign in`);
    }

    // Every answered family is intact: its last handed-out token still refreshes, on a surviving node.
    const broken: string[] = [];
    await Promise.all(
      [...tally.families].map(async ([sid, refresh], i) => {
        const r = await new Client(nodes[i % 2]!.url).post<{ access_token?: string }>('/auth/refresh', { refresh_token: refresh });
        if (r.status !== 200 || claimsOf(r.body.access_token!)['sid'] !== sid) broken.push(`${sid}: ${r.status} ${JSON.stringify(r.body)}`);
      }),
    );
    assert.deepEqual(broken, [], 'every family whose refresh was answered is intact');
  });
});
