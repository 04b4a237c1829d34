// Each starter must start a real, working server, survive the faults it offers
// (restart, kill), and leave no process or temp dir behind once stopped.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { Browser } from 'playwright-core';
import { createClient, createCluster } from 'redis';
import { launchChromium } from './chromium.js';
import { harnessTempDirs, spawnedServerPids } from './ports.js';
import { startPostgres, type PostgresServer } from './postgres.js';
import { redisCommand, startRedis, startRedisCluster, type RedisCluster, type RedisServer } from './redis.js';

function timed<T>(label: string, p: Promise<T>): Promise<T> {
  const t0 = performance.now();
  return p.then((v) => {
    // Start-up times are worth seeing in CI logs: they budget every later test.
    console.log(`# ${label} started in ${Math.round(performance.now() - t0)} ms`);
    return v;
  });
}

interface ProcInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  cmdline: string;
}

/** Every process on the machine, read from /proc (no pgrep: procps may be absent). */
function processes(): ProcInfo[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        // The fields after "(comm)" are: state ppid pgrp ...
        const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const cmdline = readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
        return [{ pid: Number(d), ppid: Number(ppid), pgrp: Number(pgrp), cmdline }];
      } catch {
        return []; // exited while we looked
      }
    });
}
const childrenAtStart = new Set(processes().filter((p) => p.ppid === process.pid).map((p) => p.pid));

async function selectOne(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ one: number }>('select 1 as one');
    return r.rows[0]?.one ?? -1;
  } finally {
    await client.end();
  }
}

void describe('postgres', () => {
  let server: PostgresServer;
  before(async () => {
    server = await timed('postgres', startPostgres());
  });
  after(async () => {
    await server.stop();
  });

  void test('answers select 1 on its url', async () => {
    assert.match(server.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/frontdesk$/);
    assert.equal(await selectOne(server.url), 1);
  });

  void test('keeps its data across restart()', async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query('create table t (v text)');
    await client.query("insert into t values ('kept')");
    await client.end();
    await timed('postgres restart', server.restart());
    const again = new pg.Client({ connectionString: server.url });
    await again.connect();
    const r = await again.query<{ v: string }>('select v from t');
    await again.end();
    assert.deepEqual(
      r.rows.map((row) => row.v),
      ['kept'],
    );
  });

  void test('recovers from kill() with restart()', async () => {
    await server.kill();
    await assert.rejects(selectOne(server.url));
    await server.restart();
    assert.equal(await selectOne(server.url), 1);
  });
});

void describe('redis', () => {
  let server: RedisServer;
  before(async () => {
    server = await timed('redis', startRedis());
  });
  after(async () => {
    await server.stop();
  });

  void test('answers PING, SET and GET', async () => {
    assert.match(server.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await server.cli('PING'), 'PONG');
    const client = createClient({ url: server.url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      assert.equal(await client.set('k', 'v'), 'OK');
      assert.equal(await client.get('k'), 'v');
    } finally {
      client.destroy();
    }
  });

  void test('works again after restart() and after kill() + restart()', async () => {
    await timed('redis restart', server.restart());
    assert.equal(await server.cli('PING'), 'PONG');
    await server.kill();
    await assert.rejects(server.cli('PING'));
    await server.restart();
    assert.equal(await server.cli('SET', 'a', '1'), 'OK');
    assert.equal(await server.cli('GET', 'a'), '1');
  });
});

void describe('redis cluster', () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await timed('redis cluster', startRedisCluster());
  });
  after(async () => {
    await cluster.stop();
  });

  void test('reports cluster_state:ok and serves keys through createCluster', async () => {
    assert.equal(cluster.nodes.length, 3);
    assert.match(cluster.url, /^redis\+cluster:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
    const client = createCluster({ rootNodes: cluster.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
    client.on('error', () => undefined);
    await client.connect();
    try {
      // Keys in different slots, so more than one master serves them.
      for (const k of ['alpha', 'beta', 'gamma', 'delta']) await client.set(k, `v-${k}`);
      for (const k of ['alpha', 'beta', 'gamma', 'delta']) assert.equal(await client.get(k), `v-${k}`);
    } finally {
      client.destroy();
    }
    for (const n of cluster.nodes) assert.match(await redisCommand(n.port, ['CLUSTER', 'INFO']), /cluster_state:ok/);
  });
});

void describe('chromium', () => {
  let browser: Browser;
  before(async () => {
    browser = await timed('chromium', launchChromium());
  });
  after(async () => {
    await browser.close();
  });

  void test('opens a data: URL and reads its title', async () => {
    const page = await browser.newPage();
    await page.goto('data:text/html,<title>frontdesk harness</title><p>hi</p>');
    assert.equal(await page.title(), 'frontdesk harness');
    await page.close();
  });
});

// Runs after the suites above, whose `after` hooks have stopped everything.
void test('leaves no server process and no temp dir behind', () => {
  const pids = spawnedServerPids();
  assert.ok(pids.length >= 5, `expected the servers above to have been spawned, got ${pids.length}`);
  // No process in one of the servers' groups (postgres backends included), and no
  // child of this process that was not there before the tests (chromium and its
  // helpers included; tsx's esbuild service was there from the start).
  const groups = new Set(pids);
  const leftovers = processes()
    .filter((p) => groups.has(p.pgrp) || (p.ppid === process.pid && !childrenAtStart.has(p.pid)))
    .map((p) => `${p.pid} ${p.cmdline}`);
  assert.deepEqual(leftovers, []);
  const dirs = harnessTempDirs();
  assert.ok(dirs.length >= 5);
  for (const dir of dirs) assert.equal(existsSync(dir), false, `${dir} was not removed`);
});
