import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { composeStores } from '../../src/stores/index.js';
import { createMemoryStores } from '../../src/stores/memory.js';
import { openRedisStores } from '../../src/stores/redis.js';
import { redisCommand, startRedisCluster, type RedisCluster } from '../harness/redis.js';
import { storeContract } from './contract.js';

/*
 * The contract against a real three-master Redis Cluster. A multi-key script
 * whose keys were not co-located by their hash tags would fail here with
 * CROSSSLOT, so this run is what proves the key layout.
 */

let cluster: RedisCluster;
before(async () => {
  cluster = await startRedisCluster();
});
after(() => cluster.stop());

let prefixes = 0;
const freshPrefix = (): string => `c${++prefixes}:`;

storeContract('redis cluster', async () => {
  const redis = await openRedisStores({ url: cluster.url, prefix: freshPrefix() });
  const stores = composeStores(createMemoryStores(), redis, { familiesIn: 'redis' });
  return { stores, close: () => stores.close() };
});

const T0 = Date.UTC(2026, 0, 1);

void describe('redis cluster specifics', () => {
  void it('spreads sessions and families over every master while each family stays on one slot', async () => {
    const prefix = freshPrefix();
    const r = await openRedisStores({ url: cluster.url, prefix });
    try {
      for (let i = 0; i < 30; i++) {
        await r.sessions.createSession({
          idHash: `h${i}`, publicId: `p${i}`, userId: `u${i % 3}`, csrfHash: 'c', createdAt: T0, lastUsedAt: T0, idleExpiresAt: T0 + 60_000, expiresAt: T0 + 60_000, userAgent: 'ua',
        });
        await r.refresh.createFamily({
          id: `f${i}`, userId: `u${i % 3}`, csrfHash: 'c', currentHash: `t${i}`, createdAt: T0, lastUsedAt: T0, expiresAt: T0 + 60_000, userAgent: 'ua',
          revokedAt: null, revokedReason: null,
        }, { jti: `j0-${i}`, exp: T0 / 1000 + 60 });
      }
      const slotOf = async (key: string): Promise<number> => Number(await redisCommand(cluster.nodes[0]!.port, ['CLUSTER', 'KEYSLOT', key]));
      for (let i = 0; i < 30; i++) {
        assert.equal(await slotOf(r.keys.family(`f${i}`)), await slotOf(r.keys.familyTokens(`f${i}`)));
        assert.equal(await slotOf(r.keys.family(`f${i}`)), await slotOf(r.keys.familyGrants(`f${i}`)));
      }
      const counts = await Promise.all(
        cluster.nodes.map(async (n) => Number(await redisCommand(n.port, ['EVAL', `return #redis.call('KEYS', ARGV[1])`, '0', `${prefix}*`]))),
      );
      assert.ok(
        counts.every((c) => c > 0),
        `keys on every master: ${counts.join(', ')}`,
      );
      // A rotation (a three-key script) on each of them works.
      for (let i = 0; i < 30; i++) {
        const res = await r.refresh.rotateRefresh({ oldHash: `t${i}`, nextHash: `t${i}'`, now: T0 + 1, graceMs: 0, grant: { jti: `j${i}`, exp: T0 / 1000 + 60 } });
        assert.equal(res.status, 'rotated');
      }
      assert.deepEqual(await r.ping(), { redis: 'ok' });
    } finally {
      await r.close();
    }
  });

  void it("delivers another node's events through the cluster within 100 ms", async () => {
    const prefix = freshPrefix();
    const [a, b] = await Promise.all([1, 2].map(() => openRedisStores({ url: cluster.url, prefix })));
    try {
      const heard = new Map<string, number>();
      b!.revocations.subscribe((e) => heard.set(e.id, performance.now()));
      let worst = 0;
      for (let i = 0; i < 10; i++) {
        const t = performance.now();
        const sent = await a!.revocations.append({ type: 'jti', jti: `j${i}`, exp: T0 / 1000 }, Date.now() + 60_000);
        for (let w = 0; !heard.has(sent.id) && w < 500; w++) await new Promise((res) => setTimeout(res, 2));
        worst = Math.max(worst, (heard.get(sent.id) ?? Infinity) - t);
      }
      console.log(`# redis cluster feed: worst of 10 append → other node's listener: ${worst.toFixed(1)} ms`);
      assert.ok(worst < 100, `within 100 ms (worst ${worst} ms)`);
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });
});
