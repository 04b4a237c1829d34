import { createHash } from 'node:crypto';
import { ErrorReply, createClient, createCluster, type RedisClientOptions } from 'redis';
import { AuthError, StoreUnavailableError } from '../core/errors.js';
import type {
  AccessGrant,
  FamilyRecord,
  RateLimitStore,
  RefreshStore,
  RevocationEvent,
  RevocationStore,
  RevokeReason,
  RevokedFamily,
  SessionRecord,
  SessionStore,
  StoredEvent,
} from '../core/ports.js';
import { FeedHub, backoff, pause, redactUrl } from './feed.js';
import { checkLimit } from './memory.js';

/*
 * The hot-state backend: sessions, refresh families, revocation events and
 * rate-limit windows in Redis, or in a Redis Cluster (`redis+cluster://…`).
 * Users and signing keys stay in SQL; src/stores/index.ts composes the two.
 *
 * Key layout (prefix `fd:` by default). Every multi-key step touches keys that
 * share one hash tag `{…}`, so it is one Lua script on one slot in a Cluster:
 *
 *   fd:{s:<idHash>}      HASH   a session
 *   fd:{u:<userId>}:s    ZSET   the user's sessions: "<publicId>|<idHash>" by absolute deadline
 *   fd:{sx}              ZSET   every session by its deadline (sweeps, wipe)
 *   fd:{f:<familyId>}    HASH   a refresh family
 *   fd:{f:<familyId>}:t  HASH   every token the family had: hash → "" (current) | "<rotatedAt>|<successor>"
 *   fd:{f:<familyId>}:g  ZSET   access tokens the family issued: jti by exp (seconds), read only on revocation
 *   fd:{t:<tokenHash>}   STRING token → family id (so a refresh finds its family's slot)
 *   fd:{u:<userId>}:f    ZSET   the user's families by deadline
 *   fd:{fx}              ZSET   every family by deadline (sweeps, wipe)
 *   fd:{ev}              STREAM revocation events; entry ids are the cursors (as one decimal, see toCursor)
 *   fd:rl:<key>          HASH   one rate-limit window
 *
 * Expiry: stores never read the clock — every deadline is checked against the
 * caller's `now`. Redis TTLs are garbage collection on top: each key expires a
 * minute (SLACK_MS) after the last deadline it holds, measured from the
 * operation's own `now`, so what is dead disappears even if no sweep runs. The
 * stream is the one key without a TTL (it would lose its last id, and so cursor
 * order): XADD trims it by age (MINID ~) and sweeps XDEL expired entries.
 *
 * Rotation is one Lua script on the family's slot (fd:{f:<id>}, its :t and :g).
 * Steps that span slots (a session and its user's index) write the index first,
 * so that "revoke everything of this user" can never miss a record; a crash in
 * between leaves only a dangling index member, which readers skip and prune.
 *
 * Revocation events: XADD (+ PUBLISH on `fd:revocations` for other services)
 * in one script. Each node follows the stream with XREAD BLOCK on a dedicated
 * connection from its last id: delivery within milliseconds, and after any
 * reconnect the same read picks up exactly what was missed before the feed is
 * declared live again (FeedHub tells Auth). No Redis command per JWT request.
 *
 * Outages: commands are never queued while disconnected (disableOfflineQueue)
 * and time out after `timeoutMs`; both become StoreUnavailableError → 503. The
 * client reconnects by itself with capped back-off, for ever.
 */

const STORE = 'redis';
const DEFAULT_PREFIX = 'fd:';
const DEFAULT_TIMEOUT_MS = 2000;
/** Extra life on every key past its last deadline: covers clock skew between nodes, and lets sweeps still count what they delete. */
const SLACK_MS = 60_000;
/** Default age beyond which XADD trims the stream: the longest access-token lifetime (24 h) plus leeway and margin. */
const DEFAULT_EVENT_RETENTION_MS = 25 * 3600_000;
/** XREAD BLOCK timeout: an idle node proves its feed alive this often (one command, not one per request). */
const FEED_BLOCK_MS = 2000;
const FEED_BATCH = 500;
/** Longest wait between reconnection attempts: a restarted Redis is back in service within about this long. */
const RECONNECT_CAP_MS = 500;
/** Connection attempts at start-up before the open fails; after the first success, reconnection never gives up. */
const STARTUP_ATTEMPTS = 3;
// Server replies that mean "not now" rather than "wrong".
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS|OOM|MOVED|ASK)\b/;
const CURSOR = /^(0|[1-9][0-9]{0,25})$/;
/** Digits of the sequence part in a cursor: entries appended within one millisecond stay ordered up to a million. */
const SEQ_DIGITS = 6;

/** How to reach Redis. */
export interface RedisOptions {
  /** `redis://[user:password@]host:port[/db]`, `rediss://…`, or `redis+cluster://[user:password@]host:port,host:port,…` */
  url: string;
  /** Prefix of every key and of the pub/sub channel, so several deployments can share a Redis; default `fd:`. No braces. */
  prefix?: string;
  /** How long one command may take before it fails as unavailable, ms; default 2000. */
  timeoutMs?: number;
  /** Stream entries older than this (by Redis's clock) are trimmed on append, ms; default 25 h. */
  eventRetentionMs?: number;
}

/** The stores Redis provides; users and keys come from SQL (see composeStores in ./index.ts). */
export interface RedisStores {
  sessions: SessionStore;
  refresh: RefreshStore;
  revocations: RevocationStore;
  rateLimits: RateLimitStore;
  /** `{ redis: 'ok' }`, or why not. */
  ping(): Promise<Record<string, string>>;
  /** Sessions, families and events past their deadlines; rate-limit windows expire by TTL and count 0. */
  sweepExpired(now: number): Promise<Record<string, number>>;
  close(): Promise<void>;
  /** The names of this store set's keys, for operators and tests (MEMORY USAGE, TTL checks). */
  readonly keys: RedisKeys;
  /** Sends one raw command to the node owning `key`: for tests and diagnostics only. */
  command(key: string | undefined, args: string[]): Promise<unknown>;
}

export interface RedisKeys {
  session(idHash: string): string;
  userSessions(userId: string): string;
  sessionIndex: string;
  family(id: string): string;
  familyTokens(id: string): string;
  familyGrants(id: string): string;
  token(hash: string): string;
  userFamilies(userId: string): string;
  familyIndex: string;
  events: string;
  channel: string;
  rateLimit(key: string): string;
}

function redisKeys(p: string): RedisKeys {
  return {
    session: (h) => `${p}{s:${h}}`,
    userSessions: (u) => `${p}{u:${u}}:s`,
    sessionIndex: `${p}{sx}`,
    family: (id) => `${p}{f:${id}}`,
    familyTokens: (id) => `${p}{f:${id}}:t`,
    familyGrants: (id) => `${p}{f:${id}}:g`,
    token: (h) => `${p}{t:${h}}`,
    userFamilies: (u) => `${p}{u:${u}}:f`,
    familyIndex: `${p}{fx}`,
    events: `${p}{ev}`,
    channel: `${p}revocations`,
    rateLimit: (key) => `${p}rl:${key}`,
  };
}

// ── Lua ─────────────────────────────────────────────────────────────────────
// Scripts run atomically on one node; every KEYS entry of one call shares a hash tag.

class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

/** ZADD plus a TTL that only ever grows: the index lives as long as its longest-lived member. */
// ARGV: member, TTL, '' or 'XX' (only move an existing member), score.
const IDX_ADD = new Script(`
if ARGV[3] == 'XX' then redis.call('ZADD', KEYS[1], 'XX', ARGV[4], ARGV[1]) else redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1]) end
local ttl = tonumber(ARGV[2])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`);

const SESSION_CREATE = new Script(`
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('a session with that id hash already exists') end
redis.call('HSET', KEYS[1], 'u', ARGV[1], 'p', ARGV[2], 'c', ARGV[3], 'ca', ARGV[4], 'lu', ARGV[5], 'ie', ARGV[6], 'ea', ARGV[7], 'ua', ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[9])
return 1`);

/** Slides the idle deadline unless the session already died of idleness; answers the new deadline or nil. */
const SESSION_TOUCH = new Script(`
local s = redis.call('HMGET', KEYS[1], 'ie', 'ea')
if not s[1] then return false end
local lu = tonumber(ARGV[1])
if lu >= tonumber(s[1]) then return false end
redis.call('HSET', KEYS[1], 'lu', ARGV[1], 'ie', ARGV[2])
local deadline = math.min(tonumber(ARGV[2]), tonumber(s[2]))
redis.call('PEXPIRE', KEYS[1], math.max(1, deadline - lu) + tonumber(ARGV[3]))
return string.format('%d', deadline)`);

/** Deletes a session (of user ARGV[1] when given); answers {userId, publicId} or nil. */
const SESSION_DELETE = new Script(`
local s = redis.call('HMGET', KEYS[1], 'u', 'p')
if not s[1] then return false end
if ARGV[1] ~= '' and s[1] ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
return s`);

/** Deletes a session only if dead at ARGV[1]: {'dead', u, p} | {'live', deadline} | {'gone'}. */
const SESSION_SWEEP = new Script(`
local s = redis.call('HMGET', KEYS[1], 'u', 'p', 'ie', 'ea')
if not s[1] then return {'gone'} end
local deadline = math.min(tonumber(s[3]), tonumber(s[4]))
if tonumber(ARGV[1]) < deadline then return {'live', string.format('%d', deadline)} end
redis.call('DEL', KEYS[1])
return {'dead', s[1], s[2]}`);

/*
 * A family's grants (the access tokens it issued) are a ZSET beside it, jti by exp in seconds:
 * a rotation adds one member and drops the expired ones (each member is dropped once, so that
 * is O(1) amortised), and only a revocation reads them. The key's TTL follows its
 * longest-lived token plus SLACK_MS, so grants no one can need any more disappear by themselves.
 * Families written before the ZSET existed kept a JSON array in the hash's `g` field: ADOPT moves
 * it into the ZSET the first time such a family is rotated or revoked.
 *
 * Shared Lua, prepended to the scripts that touch grants. KEYS[1] family, KEYS[3] its grants.
 */
const GRANT_LUA = `
local function add_grant(jti, exp, now, slack)
  local ttl = exp * 1000 - now + slack
  if ttl <= slack then return end
  redis.call('ZADD', KEYS[3], string.format('%d', exp), jti)
  if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], string.format('%d', ttl)) end
end
local function adopt(legacy, now, slack)
  for _, g in ipairs(cjson.decode(legacy)) do add_grant(g.jti, g.exp, now, slack) end
  redis.call('HDEL', KEYS[1], 'g')
end
local function live_grants(now)
  return redis.call('ZRANGE', KEYS[3], '(' .. string.format('%d', math.floor(now / 1000)), '+inf', 'BYSCORE', 'WITHSCORES')
end
`;

/** ARGV: the family's fields, grant jti, grant exp, TTL, SLACK_MS. */
const FAMILY_CREATE = new Script(`${GRANT_LUA}
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('a refresh family with that id already exists') end
redis.call('HSET', KEYS[1], 'u', ARGV[1], 'c', ARGV[2], 'h', ARGV[3], 'ca', ARGV[4], 'lu', ARGV[5], 'ea', ARGV[6], 'ua', ARGV[7])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'ra', ARGV[8], 'rr', ARGV[9]) end
redis.call('HSET', KEYS[2], ARGV[3], '')
redis.call('PEXPIRE', KEYS[1], ARGV[12])
redis.call('PEXPIRE', KEYS[2], ARGV[12])
add_grant(ARGV[10], tonumber(ARGV[11]), tonumber(ARGV[4]), tonumber(ARGV[13]))
return 1`);

/** The family if ARGV[1] is one of its tokens, else an empty list. */
const FAMILY_BY_TOKEN = new Script(`
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return {} end
return redis.call('HGETALL', KEYS[1])`);

/**
 * The rotation step (see RotateResult). KEYS: family, its tokens, its grants.
 * ARGV: oldHash, nextHash, now, graceMs, grant jti, grant exp, SLACK_MS.
 * Answers {status, family fields (HGETALL)}, {'reused', fields, live grants (ZRANGE WITHSCORES)} or {'unknown'}.
 */
const FAMILY_ROTATE = new Script(`${GRANT_LUA}
local now = tonumber(ARGV[3])
local slack = tonumber(ARGV[7])
local f = redis.call('HMGET', KEYS[1], 'h', 'ea', 'ra', 'g')
if not f[1] then return {'unknown'} end
local t = redis.call('HGET', KEYS[2], ARGV[1])
if not t then return {'unknown'} end
if f[4] then adopt(f[4], now, slack) end
if f[3] or now >= tonumber(f[2]) then return {'revoked', redis.call('HGETALL', KEYS[1])} end

local function grant()
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%d', math.floor(now / 1000)))
  add_grant(ARGV[5], tonumber(ARGV[6]), now, slack)
end

if f[1] == ARGV[1] then
  if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return redis.error_reply('the successor refresh token hash is already in use') end
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. '|' .. ARGV[2], ARGV[2], '')
  redis.call('HSET', KEYS[1], 'h', ARGV[2], 'lu', ARGV[3])
  grant()
  return {'rotated', redis.call('HGETALL', KEYS[1])}
end

-- A rotated token: a concurrent duplicate (same successor, inside the window) or a replay.
local sep = string.find(t, '|', 1, true)
if sep and string.sub(t, sep + 1) == ARGV[2] and now - tonumber(string.sub(t, 1, sep - 1)) <= tonumber(ARGV[4]) then
  grant()
  return {'grace', redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'ra', ARGV[3], 'rr', 'reused')
return {'reused', redis.call('HGETALL', KEYS[1]), live_grants(now)}`);

/**
 * Revokes a live family (of user ARGV[1] when given). KEYS: family, its tokens (unused), its grants.
 * ARGV: userId, reason, now, SLACK_MS, '1' to answer the live grants too. Answers {fields, live grants or {}} or nil.
 */
const FAMILY_REVOKE = new Script(`${GRANT_LUA}
local f = redis.call('HMGET', KEYS[1], 'u', 'ea', 'ra', 'g')
if not f[1] then return false end
if ARGV[1] ~= '' and f[1] ~= ARGV[1] then return false end
if f[3] or tonumber(ARGV[3]) >= tonumber(f[2]) then return false end
if f[4] then adopt(f[4], tonumber(ARGV[3]), tonumber(ARGV[4])) end
redis.call('HSET', KEYS[1], 'ra', ARGV[3], 'rr', ARGV[2])
if ARGV[5] ~= '1' then return {redis.call('HGETALL', KEYS[1]), {}} end
return {redis.call('HGETALL', KEYS[1]), live_grants(tonumber(ARGV[3]))}`);

/** Deletes a family past its deadline: {'dead', userId, token hashes…} | {'live'} | {'gone'}. KEYS: family, tokens, grants. */
const FAMILY_SWEEP = new Script(`
local f = redis.call('HMGET', KEYS[1], 'u', 'ea')
if not f[1] then return {'gone'} end
if tonumber(ARGV[1]) < tonumber(f[2]) then return {'live'} end
local out = {'dead', f[1]}
for _, h in ipairs(redis.call('HKEYS', KEYS[2])) do out[#out + 1] = h end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return out`);

/** XADD trimmed by age on Redis's own clock, and the same event on pub/sub for other services. */
const EVENT_APPEND = new Script(`
local t = redis.call('TIME')
local minid = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[3])
local id = redis.call('XADD', KEYS[1], 'MINID', '~', string.format('%d', math.max(0, minid)), '*', 'e', ARGV[1], 'x', ARGV[2])
local ms, seq = string.match(id, '^(%d+)-(%d+)$')
redis.call('PUBLISH', ARGV[4], '{"id":"' .. ms .. string.format('%06d', tonumber(seq)) .. '","event":' .. ARGV[1] .. '}')
return id`);

/** One fixed-window hit: ARGV now, window end if a new window opens, TTL. Answers {count, resetAt}. */
const LIMIT_HIT = new Script(`
local r = redis.call('HMGET', KEYS[1], 'n', 'r')
if not r[1] or tonumber(ARGV[1]) >= tonumber(r[2]) then
  redis.call('HSET', KEYS[1], 'n', 1, 'r', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, ARGV[2]}
end
return {redis.call('HINCRBY', KEYS[1], 'n', 1), r[2]}`);

// ── connections ─────────────────────────────────────────────────────────────

/** The one thing the stores need from node-redis, for a single server and a cluster alike. */
interface Link {
  /** Sends one command with a timeout of `timeoutMs` (default: the store's; 0: none). */
  send(key: string | undefined, args: string[], timeoutMs?: number): Promise<unknown>;
  /** PING to the server, or to every master of a cluster. */
  ping(): Promise<void>;
  /** A second connection (set) of the same kind, for the blocking stream reader. */
  duplicate(): Promise<Link>;
  close(): Promise<void>;
  destroy(): void;
}

/** Parses `redis+cluster://[user:pass@]h:p,h:p` into node URLs and credentials. */
function clusterNodes(url: string): { nodes: string[]; username?: string; password?: string } {
  const m = /^redis\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/.exec(url);
  if (!m?.[2]) throw new Error(`REDIS_URL ${redactUrl(url)} is not redis+cluster://host:port,host:port,…`);
  const nodes = m[2]
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean)
    .map((h) => `redis://${h}`);
  for (const n of nodes) {
    const u = new URL(n);
    if (u.hostname === '' || u.port === '') throw new Error(`REDIS_URL ${redactUrl(url)}: each cluster node needs host:port, got ${JSON.stringify(n.slice(8))}`);
  }
  const [user, pass] = (m[1] ?? '').split(':').map((s) => decodeURIComponent(s));
  return { nodes, ...(user && { username: user }), ...(pass !== undefined && { password: pass }) };
}

async function connect(url: string, timeoutMs: number): Promise<Link> {
  let everReady = false;
  // At start-up a dead Redis fails the open quickly; once connected, reconnect for ever with capped back-off.
  const reconnectStrategy = (retries: number, cause: Error): number | Error =>
    !everReady && retries >= STARTUP_ATTEMPTS ? cause : backoff(retries, RECONNECT_CAP_MS);
  const socket = { connectTimeout: timeoutMs, reconnectStrategy };
  // No client-wide command timeout: each command gets its own (Link.send), except the session
  // look-up, whose per-command AbortSignal timer measured as a large share of the session hot
  // path; a dropped connection still fails it at once (no offline queue), and the feed's
  // blocking reader notices a hung Redis within its own timeout.
  const common = { disableOfflineQueue: true } as const;

  if (url.startsWith('redis+cluster://')) {
    const { nodes, ...credentials } = clusterNodes(url);
    const make = (): ReturnType<typeof createCluster> => {
      const cluster = createCluster({
        rootNodes: nodes.map((n) => ({ url: n })),
        defaults: { socket, ...credentials, disableOfflineQueue: true },
        // The blocking reader only needs the stream's node; the main client connects lazily too.
        minimizeConnections: true,
      });
      // Errors surface on the commands that hit them; the emitter must not crash the process.
      cluster.on('error', () => undefined);
      return cluster;
    };
    const wrap = async (cluster: ReturnType<typeof createCluster>): Promise<Link> => {
      await cluster.connect();
      everReady = true;
      return {
        send: (key, args, t) => cluster.sendCommand(key, false, args, t === 0 ? undefined : { timeout: t ?? timeoutMs }),
        ping: async () => {
          await Promise.all(cluster.masters.map(async (m) => (await cluster.nodeClient(m)).sendCommand(['PING'], { timeout: timeoutMs })));
        },
        duplicate: () => wrap(make()),
        close: () => cluster.close(),
        destroy: () => cluster.destroy(),
      };
    };
    return wrap(make());
  }

  const options: RedisClientOptions = { url, socket, ...common };
  const wrap = async (client: ReturnType<typeof createClient>): Promise<Link> => {
    client.on('error', () => undefined);
    await client.connect();
    everReady = true;
    return {
      send: (_key, args, t) => client.sendCommand(args, t === 0 ? undefined : { timeout: t ?? timeoutMs }),
      ping: async () => {
        await client.sendCommand(['PING'], { timeout: timeoutMs });
      },
      duplicate: () => wrap(createClient(options)),
      close: () => client.close(),
      destroy: () => client.destroy(),
    };
  };
  return wrap(createClient(options));
}

// ── replies ─────────────────────────────────────────────────────────────────

type Fields = Record<string, string>;

/** HGETALL's flat [field, value, …] list as a record. */
function fieldsOf(reply: unknown): Fields {
  const out: Fields = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

const num = (v: string | undefined): number => {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n)) throw new Error(`Redis store: expected a number, found ${JSON.stringify(v)}`);
  return n;
};

const str = (v: string | undefined): string => {
  if (v === undefined) throw new Error('Redis store: a record is missing a field');
  return v;
};

function toSession(idHash: string, f: Fields): SessionRecord {
  return {
    idHash,
    publicId: str(f['p']),
    userId: str(f['u']),
    csrfHash: str(f['c']),
    createdAt: num(f['ca']),
    lastUsedAt: num(f['lu']),
    idleExpiresAt: num(f['ie']),
    expiresAt: num(f['ea']),
    userAgent: str(f['ua']),
  };
}

function toFamily(id: string, f: Fields): FamilyRecord {
  return {
    id,
    userId: str(f['u']),
    csrfHash: str(f['c']),
    currentHash: str(f['h']),
    createdAt: num(f['ca']),
    lastUsedAt: num(f['lu']),
    expiresAt: num(f['ea']),
    userAgent: str(f['ua']),
    revokedAt: f['ra'] === undefined ? null : num(f['ra']),
    revokedReason: (f['rr'] as RevokeReason | undefined) ?? null,
  };
}

/** ZRANGE … WITHSCORES's flat [jti, exp, …] list as grants. */
function grantsOf(reply: unknown): AccessGrant[] {
  const out: AccessGrant[] = [];
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out.push({ jti: String(reply[i]), exp: num(String(reply[i + 1])) });
  return out;
}

/**
 * Cursors are stream ids written as one decimal number, `<ms><seq as 6 digits>`
 * (1764237000123-4 → "1764237000123000004"): ordered like the ids, and the same
 * shape as the SQL backends' cursors, so verifiers see one format (and an old
 * SQL cursor read here replays from the start rather than failing).
 */
function toCursor(streamId: string): string {
  const [ms = '0', seq = '0'] = streamId.split('-');
  if (seq.length > SEQ_DIGITS) throw new Error(`Redis store: stream id ${streamId} has a sequence too large for a cursor`);
  return ms === '0' ? String(Number(seq)) : `${ms}${seq.padStart(SEQ_DIGITS, '0')}`;
}

/** Inverse of toCursor; anything else (a forged Last-Event-ID) is a 400. */
function toStreamId(cursor: string): string {
  if (!CURSOR.test(cursor)) throw new AuthError('invalid_request', 'The revocation cursor is not valid.');
  const ms = cursor.slice(0, -SEQ_DIGITS) || '0';
  return `${ms}-${Number(cursor.slice(-SEQ_DIGITS))}`;
}

/** A stream entry [id, [field, value, …]] as a stored event (with its cursor), its stream id and deadline. */
function toEntry(raw: unknown): { event: StoredEvent; streamId: string; expiresAt: number } {
  const [streamId, flat] = raw as [string, string[]];
  const f = fieldsOf(flat);
  return { event: { id: toCursor(streamId), event: JSON.parse(str(f['e'])) as RevocationEvent }, streamId, expiresAt: num(f['x']) };
}

/** Orders two stream ids numerically ("<ms>-<seq>"). */
function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}

/** A key's TTL: from the operation's `now` to the deadline, plus slack. */
const ttlMs = (deadline: number, now: number): number => Math.max(1, Math.ceil(deadline - now)) + SLACK_MS;

const newestFirst = <T extends { createdAt: number }>(rows: T[]): T[] => rows.sort((a, b) => b.createdAt - a.createdAt);

/** Maps a client error to the store's vocabulary: a server's "no" stays an Error, everything else is an outage. */
function translate(error: unknown, op: string): Error {
  if (error instanceof AuthError) return error;
  if (error instanceof ErrorReply && !UNAVAILABLE_REPLY.test(error.message)) return new Error(`Redis store: ${op} failed: ${error.message}`, { cause: error });
  return new StoreUnavailableError(STORE, { cause: error });
}

/**
 * Connects to Redis (or a Redis Cluster), starts following the revocation
 * stream, and returns the hot-state stores. Throws an Error naming REDIS_URL
 * (password masked) when Redis cannot be reached at start-up.
 *
 * @example
 * const redis = await openRedisStores({ url: 'redis://127.0.0.1:6379' });
 * const stores = composeStores(await openPostgresStores({ url }), redis);
 */
export async function openRedisStores(options: RedisOptions): Promise<RedisStores> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (/[{}]/.test(prefix)) throw new RangeError('The Redis key prefix must not contain braces: they would change the hash slots.');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retentionMs = options.eventRetentionMs ?? DEFAULT_EVENT_RETENTION_MS;
  let link: Link;
  let reader: Link;
  try {
    link = await connect(options.url, timeoutMs);
  } catch (error) {
    const why = error instanceof Error ? error.message || error.name : String(error);
    throw new Error(`Cannot reach Redis at REDIS_URL ${redactUrl(options.url)}: ${why}`, { cause: error });
  }
  try {
    reader = await link.duplicate();
  } catch (error) {
    link.destroy();
    throw new Error(`Cannot reach Redis at REDIS_URL ${redactUrl(options.url)}`, { cause: error });
  }
  const k = redisKeys(prefix);
  const hub = new FeedHub();
  const stop = new AbortController();
  let closed = false;

  const send = async (op: string, key: string | undefined, args: string[], timeout?: number): Promise<unknown> => {
    if (closed) throw new StoreUnavailableError(STORE);
    try {
      return await link.send(key, args, timeout);
    } catch (error) {
      throw translate(error, op);
    }
  };

  const evalScript = async (op: string, script: Script, keys: string[], args: (string | number)[]): Promise<unknown> => {
    if (closed) throw new StoreUnavailableError(STORE);
    const tail = [String(keys.length), ...keys, ...args.map(String)];
    try {
      try {
        return await link.send(keys[0], ['EVALSHA', script.sha, ...tail]);
      } catch (error) {
        // A restarted (or new cluster) node has no script cache: send the source once, it is cached from then on.
        if (error instanceof ErrorReply && error.message.startsWith('NOSCRIPT')) return await link.send(keys[0], ['EVAL', script.source, ...tail]);
        throw error;
      }
    } catch (error) {
      throw translate(error, op);
    }
  };

  const members = async (op: string, key: string, args: string[] = ['0', '-1']): Promise<string[]> =>
    ((await send(op, key, ['ZRANGE', key, ...args])) as string[] | null) ?? [];

  const indexAdd = (op: string, key: string, member: string, score: number, ttl: number): Promise<unknown> =>
    evalScript(op, IDX_ADD, [key], [member, ttl, '', score]);

  // ── sessions ──────────────────────────────────────────────────────────────

  const deleteSessionRecord = async (op: string, idHash: string, userId = ''): Promise<boolean> => {
    const r = (await evalScript(op, SESSION_DELETE, [k.session(idHash)], [userId])) as [string, string] | null;
    if (r === null) return false;
    const [u, p] = r;
    await Promise.all([send(op, k.userSessions(u), ['ZREM', k.userSessions(u), `${p}|${idHash}`]), send(op, k.sessionIndex, ['ZREM', k.sessionIndex, idHash])]);
    return true;
  };

  const sweepSessions = async (now: number): Promise<number> => {
    let swept = 0;
    for (;;) {
      const due = await members('sweepSessions', k.sessionIndex, ['-inf', String(now), 'BYSCORE', 'LIMIT', '0', '500']);
      if (due.length === 0) return swept;
      await Promise.all(
        due.map(async (idHash) => {
          const r = (await evalScript('sweepSessions', SESSION_SWEEP, [k.session(idHash)], [now])) as string[];
          if (r[0] === 'live') return send('sweepSessions', k.sessionIndex, ['ZADD', k.sessionIndex, 'XX', str(r[1]), idHash]);
          if (r[0] === 'dead') {
            swept++;
            await send('sweepSessions', k.userSessions(str(r[1])), ['ZREM', k.userSessions(str(r[1])), `${str(r[2])}|${idHash}`]);
          }
          return send('sweepSessions', k.sessionIndex, ['ZREM', k.sessionIndex, idHash]);
        }),
      );
    }
  };

  const sessions: SessionStore = {
    createSession: async (s) => {
      if (s.publicId.includes('|')) throw new RangeError('a session public id must not contain "|"');
      const deadline = Math.min(s.idleExpiresAt, s.expiresAt);
      // Indexes first: a session that exists is always findable by "revoke all of this user".
      await Promise.all([
        indexAdd('createSession', k.userSessions(s.userId), `${s.publicId}|${s.idHash}`, s.expiresAt, ttlMs(s.expiresAt, s.lastUsedAt)),
        indexAdd('createSession', k.sessionIndex, s.idHash, deadline, ttlMs(deadline, s.lastUsedAt)),
      ]);
      await evalScript(
        'createSession',
        SESSION_CREATE,
        [k.session(s.idHash)],
        [s.userId, s.publicId, s.csrfHash, s.createdAt, s.lastUsedAt, s.idleExpiresAt, s.expiresAt, s.userAgent, ttlMs(deadline, s.lastUsedAt)],
      );
    },
    findSession: async (idHash, now) => {
      const f = fieldsOf(await send('findSession', k.session(idHash), ['HGETALL', k.session(idHash)], 0));
      if (f['u'] === undefined) return null;
      const s = toSession(idHash, f);
      return now < s.idleExpiresAt && now < s.expiresAt ? s : null;
    },
    touchSession: async (idHash, lastUsedAt, idleExpiresAt) => {
      const deadline = (await evalScript('touchSession', SESSION_TOUCH, [k.session(idHash)], [lastUsedAt, idleExpiresAt, SLACK_MS])) as string | null;
      if (deadline !== null) {
        // The sweep index follows the new deadline (XX: never re-adds a session deleted meanwhile).
        await evalScript('touchSession', IDX_ADD, [k.sessionIndex], [idHash, ttlMs(Number(deadline), lastUsedAt), 'XX', deadline]);
      }
    },
    deleteSession: (idHash) => deleteSessionRecord('deleteSession', idHash),
    deleteSessionByPublicId: async (userId, publicId) => {
      const member = (await members('deleteSessionByPublicId', k.userSessions(userId))).find((m) => m.startsWith(`${publicId}|`));
      return member === undefined ? false : deleteSessionRecord('deleteSessionByPublicId', member.slice(publicId.length + 1), userId);
    },
    deleteUserSessions: async (userId, exceptPublicId) => {
      const doomed = (await members('deleteUserSessions', k.userSessions(userId))).filter((m) => !m.startsWith(`${exceptPublicId}|`) || exceptPublicId === undefined);
      const deleted = await Promise.all(doomed.map((m) => deleteSessionRecord('deleteUserSessions', m.slice(m.indexOf('|') + 1), userId)));
      // Members whose session already expired by TTL are pruned too.
      if (doomed.length > 0) await send('deleteUserSessions', k.userSessions(userId), ['ZREM', k.userSessions(userId), ...doomed]);
      return deleted.filter(Boolean).length;
    },
    listUserSessions: async (userId, now) => {
      const all = await members('listUserSessions', k.userSessions(userId));
      const found = await Promise.all(
        all.map(async (m) => {
          const idHash = m.slice(m.indexOf('|') + 1);
          const f = fieldsOf(await send('listUserSessions', k.session(idHash), ['HGETALL', k.session(idHash)]));
          return f['u'] === userId ? toSession(idHash, f) : null;
        }),
      );
      return newestFirst(found.filter((s): s is SessionRecord => s !== null && now < s.idleExpiresAt && now < s.expiresAt));
    },
    deleteAllSessions: async () => {
      let deleted = 0;
      for (;;) {
        const batch = await members('deleteAllSessions', k.sessionIndex, ['0', '499']);
        if (batch.length === 0) return deleted;
        const done = await Promise.all(batch.map((idHash) => deleteSessionRecord('deleteAllSessions', idHash)));
        deleted += done.filter(Boolean).length;
        await send('deleteAllSessions', k.sessionIndex, ['ZREM', k.sessionIndex, ...batch]);
      }
    },
    sweepSessions,
  };

  // ── refresh families ──────────────────────────────────────────────────────

  const familyFields = async (op: string, id: string): Promise<Fields> => fieldsOf(await send(op, k.family(id), ['HGETALL', k.family(id)]));

  const familyKeys = (id: string): string[] => [k.family(id), k.familyTokens(id), k.familyGrants(id)];

  /** Revokes one family; its grants are read only for callers that deny them (the others bump the user's epoch). */
  const revokeScript = async (op: string, id: string, userId: string, reason: RevokeReason, now: number, withGrants: boolean) =>
    (await evalScript(op, FAMILY_REVOKE, familyKeys(id), [userId, reason, now, SLACK_MS, withGrants ? '1' : ''])) as [unknown, unknown] | null;
  const revokeOne = async (op: string, id: string, userId: string, reason: RevokeReason, now: number): Promise<FamilyRecord | null> => {
    const r = await revokeScript(op, id, userId, reason, now, false);
    return r === null ? null : toFamily(id, fieldsOf(r[0]));
  };
  const revokeWithGrants = async (op: string, id: string, userId: string, reason: RevokeReason, now: number): Promise<RevokedFamily | null> => {
    const r = await revokeScript(op, id, userId, reason, now, true);
    return r === null ? null : { ...toFamily(id, fieldsOf(r[0])), grants: grantsOf(r[1]) };
  };

  const sweepFamilies = async (now: number): Promise<number> => {
    let swept = 0;
    for (;;) {
      const due = await members('sweepFamilies', k.familyIndex, ['-inf', String(now), 'BYSCORE', 'LIMIT', '0', '500']);
      if (due.length === 0) return swept;
      await Promise.all(
        due.map(async (id) => {
          const r = (await evalScript('sweepFamilies', FAMILY_SWEEP, familyKeys(id), [now])) as string[];
          if (r[0] === 'live') return; // cannot happen (a family's deadline never moves); left indexed
          if (r[0] === 'dead') {
            swept++;
            const [, userId = '', ...tokens] = r;
            await Promise.all([
              send('sweepFamilies', k.userFamilies(userId), ['ZREM', k.userFamilies(userId), id]),
              ...tokens.map((h) => send('sweepFamilies', k.token(h), ['DEL', k.token(h)])),
            ]);
          }
          await send('sweepFamilies', k.familyIndex, ['ZREM', k.familyIndex, id]);
        }),
      );
    }
  };

  const refresh: RefreshStore = {
    createFamily: async (f, grant) => {
      const ttl = ttlMs(f.expiresAt, f.createdAt);
      await Promise.all([
        indexAdd('createFamily', k.userFamilies(f.userId), f.id, f.expiresAt, ttl),
        indexAdd('createFamily', k.familyIndex, f.id, f.expiresAt, ttl),
      ]);
      const claimed = await send('createFamily', k.token(f.currentHash), ['SET', k.token(f.currentHash), f.id, 'NX', 'PX', String(ttl)]);
      if (claimed === null) throw new Error('that refresh token hash is already in use');
      await evalScript(
        'createFamily',
        FAMILY_CREATE,
        familyKeys(f.id),
        [f.userId, f.csrfHash, f.currentHash, f.createdAt, f.lastUsedAt, f.expiresAt, f.userAgent, f.revokedAt ?? '', f.revokedReason ?? '', grant?.jti ?? '', grant?.exp ?? 0, ttl, SLACK_MS],
      );
    },
    rotateRefresh: async ({ oldHash, nextHash, now, graceMs, grant }) => {
      const [familyId, pttl] = (await Promise.all([
        send('rotateRefresh', k.token(oldHash), ['GET', k.token(oldHash)]),
        send('rotateRefresh', k.token(oldHash), ['PTTL', k.token(oldHash)]),
      ])) as [string | null, number];
      if (familyId === null) return { status: 'unknown' };
      // The successor's look-up is written alongside the script, so it exists before anyone holds the new token.
      // If the script decides otherwise the look-up names a family that never had that token: it reads as unknown.
      const [, r] = await Promise.all([
        send('rotateRefresh', k.token(nextHash), ['SET', k.token(nextHash), familyId, 'PX', String(pttl > 0 ? pttl : SLACK_MS)]),
        evalScript('rotateRefresh', FAMILY_ROTATE, familyKeys(familyId), [oldHash, nextHash, now, graceMs, grant.jti, grant.exp, SLACK_MS]),
      ]);
      const [status, fields, grants] = r as [string, unknown, unknown];
      if (status === 'unknown') return { status: 'unknown' };
      const family = toFamily(familyId, fieldsOf(fields));
      if (status === 'reused') return { status, family: { ...family, grants: grantsOf(grants) } };
      return { status: status as 'rotated' | 'grace' | 'revoked', family };
    },
    findFamilyByToken: async (tokenHash, now) => {
      const familyId = (await send('findFamilyByToken', k.token(tokenHash), ['GET', k.token(tokenHash)])) as string | null;
      if (familyId === null) return null;
      const f = fieldsOf(await evalScript('findFamilyByToken', FAMILY_BY_TOKEN, [k.family(familyId), k.familyTokens(familyId)], [tokenHash]));
      if (f['u'] === undefined) return null;
      const family = toFamily(familyId, f);
      return family.revokedAt === null && now < family.expiresAt ? family : null;
    },
    revokeFamily: (userId, familyId, reason, now) => revokeWithGrants('revokeFamily', familyId, userId, reason, now),
    revokeUserFamilies: async (userId, reason, now, exceptFamilyId) => {
      const ids = (await members('revokeUserFamilies', k.userFamilies(userId))).filter((id) => id !== exceptFamilyId);
      const revoked = await Promise.all(ids.map((id) => revokeOne('revokeUserFamilies', id, userId, reason, now)));
      return revoked.filter((f): f is FamilyRecord => f !== null);
    },
    listUserFamilies: async (userId, now) => {
      const ids = await members('listUserFamilies', k.userFamilies(userId));
      const found = await Promise.all(
        ids.map(async (id) => {
          const f = await familyFields('listUserFamilies', id);
          return f['u'] === userId ? toFamily(id, f) : null;
        }),
      );
      return newestFirst(found.filter((f): f is FamilyRecord => f !== null && f.revokedAt === null && now < f.expiresAt));
    },
    revokeAllFamilies: async (reason, now) => {
      let revoked = 0;
      // Revoking leaves a family indexed (it is kept until its deadline), so page by offset.
      for (let offset = 0; ; offset += 500) {
        const ids = await members('revokeAllFamilies', k.familyIndex, [`(${now}`, '+inf', 'BYSCORE', 'LIMIT', String(offset), '500']);
        const done = await Promise.all(ids.map((id) => revokeOne('revokeAllFamilies', id, '', reason, now)));
        revoked += done.filter((f) => f !== null).length;
        if (ids.length < 500) return revoked;
      }
    },
    sweepFamilies,
    // Rotations drop expired grants and each family's grants key expires with its last token.
    sweepGrants: () => Promise.resolve(0),
  };

  // ── revocation events ─────────────────────────────────────────────────────

  const since = async (cursor: string | null, limit: number, now: number): Promise<StoredEvent[]> => {
    checkLimit(limit);
    let start = cursor === null ? '-' : `(${toStreamId(cursor)}`;
    const out: StoredEvent[] = [];
    for (;;) {
      const count = Math.min(1000, Math.max(100, limit - out.length));
      const batch = ((await send('since', k.events, ['XRANGE', k.events, start, '+', 'COUNT', String(count)])) as unknown[] | null) ?? [];
      for (const raw of batch) {
        const { event, expiresAt } = toEntry(raw);
        if (now < expiresAt) out.push(event);
        if (out.length === limit) return out;
      }
      const last = batch.at(-1) as [string] | undefined;
      if (batch.length < count || last === undefined) return out;
      start = `(${last[0]}`;
    }
  };

  const sweepEvents = async (now: number): Promise<number> => {
    let start = '-';
    let swept = 0;
    for (;;) {
      const batch = ((await send('sweepEvents', k.events, ['XRANGE', k.events, start, '+', 'COUNT', '1000'])) as unknown[] | null) ?? [];
      const expired = batch.map(toEntry).filter((e) => e.expiresAt <= now).map((e) => e.streamId);
      if (expired.length > 0) swept += Number(await send('sweepEvents', k.events, ['XDEL', k.events, ...expired]));
      const last = batch.at(-1) as [string] | undefined;
      if (batch.length < 1000 || last === undefined) return swept;
      start = `(${last[0]}`;
    }
  };

  /** The newest entry's id, or 0-0 for an empty (or missing) stream. */
  const newestId = async (via: Link): Promise<string> => {
    const r = (await via.send(k.events, ['XREVRANGE', k.events, '+', '-', 'COUNT', '1'])) as [string, unknown][] | null;
    return r?.[0]?.[0] ?? '0-0';
  };

  // Events up to here are the subscriber's to replay (Auth.catchUp); the reader delivers what follows.
  let lastId: string;
  try {
    lastId = await newestId(link);
  } catch (error) {
    link.destroy();
    reader.destroy();
    throw translate(error, 'open');
  }

  /** Follows the stream until close: XREAD BLOCK from the last id delivered, so a reconnect resumes exactly where it stopped. */
  const follow = async (): Promise<void> => {
    let attempt = 0;
    let reconnected = false;
    while (!stop.signal.aborted) {
      try {
        if (reconnected) {
          // A Redis that restarted empty may hand out ids below ours (another clock): start over from the beginning.
          // Redelivering an event is harmless; skipping one is not.
          const newest = await newestId(reader);
          if (compareIds(newest, lastId) < 0) lastId = '0-0';
          reconnected = false;
        }
        // While catching up, read without blocking: an empty answer means "caught up" at once.
        const block = hub.isLive ? ['BLOCK', String(FEED_BLOCK_MS)] : [];
        const reply = (await reader.send(
          k.events,
          ['XREAD', 'COUNT', String(FEED_BATCH), ...block, 'STREAMS', k.events, lastId],
          FEED_BLOCK_MS + timeoutMs,
        )) as [string, unknown[]][] | null;
        const entries = reply?.[0]?.[1] ?? [];
        for (const raw of entries) {
          const { event, streamId } = toEntry(raw);
          lastId = streamId;
          hub.deliver(event);
        }
        attempt = 0;
        // Caught up (a short read, or a quiet timeout): only now is the feed complete again.
        if (entries.length < FEED_BATCH) hub.setLive(true);
      } catch {
        if (stop.signal.aborted) return;
        hub.setLive(false);
        reconnected = true;
        await pause(backoff(attempt++, RECONNECT_CAP_MS), stop.signal);
      }
    }
  };
  const following = follow();

  const revocations: RevocationStore = {
    append: async (event, expiresAt) => {
      const json = JSON.stringify(event);
      const streamId = (await evalScript('append', EVENT_APPEND, [k.events], [json, expiresAt, retentionMs, k.channel])) as string;
      // Built from the stored JSON so the caller gets exactly what `since` will replay.
      return { id: toCursor(streamId), event: JSON.parse(json) as RevocationEvent };
    },
    since,
    subscribe: (listener, onFeed) => hub.subscribe(listener, onFeed),
    sweepEvents,
  };

  // ── rate limits ───────────────────────────────────────────────────────────

  const rateLimits: RateLimitStore = {
    hit: async (key, windowMs, now) => {
      const [count, resetAt] = (await evalScript('hit', LIMIT_HIT, [k.rateLimit(key)], [now, now + windowMs, windowMs + SLACK_MS])) as [number, string];
      return { count: Number(count), resetAt: Number(resetAt) };
    },
    peek: async (key, now) => {
      const [n, r] = (await send('peek', k.rateLimit(key), ['HMGET', k.rateLimit(key), 'n', 'r'])) as [string | null, string | null];
      return n === null || r === null || now >= Number(r) ? { count: 0, resetAt: now } : { count: Number(n), resetAt: Number(r) };
    },
    reset: async (key) => {
      await send('reset', k.rateLimit(key), ['DEL', k.rateLimit(key)]);
    },
  };

  return {
    sessions,
    refresh,
    revocations,
    rateLimits,
    keys: k,
    command: (key, args) => send('command', key, args),
    ping: async () => {
      if (closed) return { [STORE]: 'closed' };
      try {
        await link.ping();
      } catch (error) {
        const e = translate(error, 'ping');
        return { [STORE]: e instanceof StoreUnavailableError ? 'unavailable' : `error: ${e.message}` };
      }
      return { [STORE]: hub.isLive ? 'ok' : 'events feed reconnecting' };
    },
    sweepExpired: async (now) => ({
      sessions: await sweepSessions(now),
      families: await sweepFamilies(now),
      grants: 0,
      events: await sweepEvents(now),
      rateLimits: 0,
    }),
    close: async () => {
      if (closed) return;
      closed = true;
      stop.abort();
      hub.clear();
      // The reader is blocked in XREAD: drop its connection rather than wait for the block to time out.
      reader.destroy();
      await following;
      await link.close().catch(() => link.destroy());
    },
  };
}
