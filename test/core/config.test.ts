import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../../src/core/config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Asserts that `env` is refused with a ConfigError whose message starts with `variable`. */
function refuses(env: Record<string, string>, variable: string): void {
  assert.throws(
    () => loadConfig(env),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
      assert.ok(e.message.startsWith(`${variable} `), `message should start with ${variable}: ${e.message}`);
      return true;
    },
  );
}

describe('loadConfig defaults (API.md, Start)', () => {
  const c = loadConfig({});

  test('listens on 127.0.0.1:3000', () => {
    assert.equal(c.port, 3000);
    assert.equal(c.host, '127.0.0.1');
  });

  test('keeps data in ./data with SQLite, and uses neither PostgreSQL nor Redis', () => {
    assert.equal(c.dataDir, './data');
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.redisUrl, undefined);
  });

  test('issues tokens for http://localhost:3000 to the audience frontdesk, signed with EdDSA', () => {
    assert.equal(c.issuer, 'http://localhost:3000');
    assert.equal(c.audience, 'frontdesk');
    assert.equal(c.jwtAlg, 'EdDSA');
  });

  test('access tokens live 600 s, refresh families 1209600 s, with a 10 s refresh grace', () => {
    assert.equal(c.accessTtl, 600);
    assert.equal(c.refreshTtl, 1_209_600);
    assert.equal(c.refreshGrace, 10);
  });

  test('sessions time out after 1800 s idle and 43200 s absolute', () => {
    assert.equal(c.sessionIdleTtl, 1800);
    assert.equal(c.sessionAbsoluteTtl, 43_200);
  });

  test("only the server's own origin is allowed on state-changing requests", () => {
    assert.ok(c.allowedOrigins.includes('http://localhost:3000'), String(c.allowedOrigins));
    for (const o of c.allowedOrigins) {
      const u = new URL(o);
      assert.equal(u.origin, o);
      assert.ok(['localhost', '127.0.0.1'].includes(u.hostname), `foreign origin allowed by default: ${o}`);
      assert.equal(u.port, '3000');
    }
  });

  test('the default allowed origin follows a configured issuer', () => {
    const custom = loadConfig({ FRONTDESK_ISSUER: 'https://auth.example.com' });
    assert.ok(custom.allowedOrigins.includes('https://auth.example.com'), String(custom.allowedOrigins));
  });

  test('no admin account, every mode enabled and no revocation stream', () => {
    assert.equal(c.admin, undefined);
    assert.deepEqual(c.modes, ['session', 'jwt', 'hybrid']);
    assert.equal(c.verifierSecret, undefined);
  });

  test('an empty variable means its default', () => {
    const e = loadConfig({ PORT: '', FRONTDESK_ACCESS_TTL: '', FRONTDESK_JWT_ALG: '' });
    assert.equal(e.port, 3000);
    assert.equal(e.accessTtl, 600);
    assert.equal(e.jwtAlg, 'EdDSA');
  });
});

describe('loadConfig reads set values', () => {
  test('every table variable is read into the config', () => {
    const c = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      FRONTDESK_DATA_DIR: '/var/lib/frontdesk',
      DATABASE_URL: 'postgres://fd@db/fd',
      REDIS_URL: 'redis://cache:6379',
      FRONTDESK_ISSUER: 'https://auth.example.com',
      FRONTDESK_AUDIENCE: 'api',
      FRONTDESK_JWT_ALG: 'ES256',
      FRONTDESK_ACCESS_TTL: '300',
      FRONTDESK_REFRESH_TTL: '86400',
      FRONTDESK_SESSION_IDLE_TTL: '600',
      FRONTDESK_SESSION_ABSOLUTE_TTL: '3600',
      FRONTDESK_ALLOWED_ORIGINS: 'https://app.example.com, https://admin.example.com:8443',
      FRONTDESK_ADMIN_USERNAME: 'root',
      FRONTDESK_ADMIN_PASSWORD: 'correct horse battery',
      FRONTDESK_MODES: 'session,hybrid',
      FRONTDESK_REFRESH_GRACE: '5',
      FRONTDESK_VERIFIER_SECRET: 'v'.repeat(32),
    });
    assert.equal(c.port, 8080);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.dataDir, '/var/lib/frontdesk');
    assert.equal(c.databaseUrl, 'postgres://fd@db/fd');
    assert.equal(c.redisUrl, 'redis://cache:6379');
    assert.equal(c.issuer, 'https://auth.example.com');
    assert.equal(c.audience, 'api');
    assert.equal(c.jwtAlg, 'ES256');
    assert.equal(c.accessTtl, 300);
    assert.equal(c.refreshTtl, 86_400);
    assert.equal(c.sessionIdleTtl, 600);
    assert.equal(c.sessionAbsoluteTtl, 3600);
    assert.deepEqual(c.allowedOrigins, ['https://app.example.com', 'https://admin.example.com:8443']);
    assert.deepEqual(c.admin, { username: 'root', password: 'correct horse battery' });
    assert.deepEqual(c.modes, ['session', 'hybrid']);
    assert.equal(c.refreshGrace, 5);
    assert.equal(c.verifierSecret, 'v'.repeat(32));
  });
});

describe('loadConfig refuses invalid values, naming the variable first', () => {
  test('PORT=abc', () => refuses({ PORT: 'abc' }, 'PORT'));
  test('the PORT message describes a port number, not seconds', () => {
    assert.throws(
      () => loadConfig({ PORT: 'abc' }),
      (e: unknown) => e instanceof ConfigError && /port/i.test(e.message.slice('PORT'.length)) && !/second/i.test(e.message),
    );
  });
  test('PORT out of range', () => refuses({ PORT: '65536' }, 'PORT'));
  test('FRONTDESK_JWT_ALG=none', () => refuses({ FRONTDESK_JWT_ALG: 'none' }, 'FRONTDESK_JWT_ALG'));
  test('FRONTDESK_ACCESS_TTL=-1', () => refuses({ FRONTDESK_ACCESS_TTL: '-1' }, 'FRONTDESK_ACCESS_TTL'));
  test('FRONTDESK_ACCESS_TTL=0', () => refuses({ FRONTDESK_ACCESS_TTL: '0' }, 'FRONTDESK_ACCESS_TTL'));
  test('FRONTDESK_ACCESS_TTL=1.5', () => refuses({ FRONTDESK_ACCESS_TTL: '1.5' }, 'FRONTDESK_ACCESS_TTL'));
  test('FRONTDESK_MODES=foo', () => refuses({ FRONTDESK_MODES: 'foo' }, 'FRONTDESK_MODES'));
  test('FRONTDESK_MODES with a valid and an unknown mode', () => refuses({ FRONTDESK_MODES: 'session,foo' }, 'FRONTDESK_MODES'));
  test('FRONTDESK_MODES naming no mode', () => refuses({ FRONTDESK_MODES: ' , ' }, 'FRONTDESK_MODES'));
  test('FRONTDESK_ALLOWED_ORIGINS with a path', () =>
    refuses({ FRONTDESK_ALLOWED_ORIGINS: 'https://app.example.com/path' }, 'FRONTDESK_ALLOWED_ORIGINS'));
  test('FRONTDESK_ALLOWED_ORIGINS with a trailing slash', () =>
    refuses({ FRONTDESK_ALLOWED_ORIGINS: 'https://app.example.com/' }, 'FRONTDESK_ALLOWED_ORIGINS'));
  test('FRONTDESK_ALLOWED_ORIGINS with a non-HTTP scheme', () =>
    refuses({ FRONTDESK_ALLOWED_ORIGINS: 'https://ok.example.com,ftp://files.example.com' }, 'FRONTDESK_ALLOWED_ORIGINS'));
  test('FRONTDESK_ADMIN_USERNAME without FRONTDESK_ADMIN_PASSWORD names the missing one', () =>
    refuses({ FRONTDESK_ADMIN_USERNAME: 'root' }, 'FRONTDESK_ADMIN_PASSWORD'));
  test('FRONTDESK_ADMIN_PASSWORD without FRONTDESK_ADMIN_USERNAME names the missing one', () =>
    refuses({ FRONTDESK_ADMIN_PASSWORD: 'correct horse battery' }, 'FRONTDESK_ADMIN_USERNAME'));
  test('DATABASE_URL=mysql://', () => refuses({ DATABASE_URL: 'mysql://fd@db/fd' }, 'DATABASE_URL'));
  test('REDIS_URL=http://', () => refuses({ REDIS_URL: 'http://cache:6379' }, 'REDIS_URL'));
  test('FRONTDESK_ISSUER that is not a URL', () => refuses({ FRONTDESK_ISSUER: 'auth server' }, 'FRONTDESK_ISSUER'));
  test('FRONTDESK_VERIFIER_SECRET shorter than 32 characters', () =>
    refuses({ FRONTDESK_VERIFIER_SECRET: 'short' }, 'FRONTDESK_VERIFIER_SECRET'));
  test('FRONTDESK_SESSION_IDLE_TTL longer than the absolute timeout', () =>
    refuses({ FRONTDESK_SESSION_IDLE_TTL: '7200', FRONTDESK_SESSION_ABSOLUTE_TTL: '3600' }, 'FRONTDESK_SESSION_IDLE_TTL'));
});

describe('start-up with a bad variable', () => {
  /** Runs `node --import tsx src/main.ts` with only `bad` set among Frontdesk's variables. */
  function start(bad: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      // Our own variables, and the test runner's marker, which would make the child report as a test.
      if (/^(FRONTDESK_|PORT$|HOST$|DATABASE_URL$|REDIS_URL$|NODE_TEST_CONTEXT$)/.test(k)) continue;
      env[k] = v;
    }
    Object.assign(env, bad);
    return new Promise((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: root, env, timeout: 30_000 }, (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      });
    });
  }

  test('FRONTDESK_JWT_ALG=none stops start-up with a non-zero exit and exactly one line naming the variable', async () => {
    const r = await start({ FRONTDESK_JWT_ALG: 'none' });
    assert.ok(r.code !== 0 && r.code !== null, `exit code ${String(r.code)}`);
    const lines = (r.stdout + r.stderr).split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, 1, `expected one line, got:\n${r.stdout}${r.stderr}`);
    assert.match(lines[0] ?? '', /\bFRONTDESK_JWT_ALG\b/);
  });
});
