import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getFreePort } from '../harness/ports.js';
import { Client } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { b64u, jwtLogin, PASSWORD, ROOT, SECRET, signRaw } from '../verifier/support.js';

// Every `frontdesk` command, spawned as its own process: output and exit code checked.
// Data-changing commands run against the same SQLite file as a live server.

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function frontdesk(args: string[], o: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, FRONTDESK_LOG_LEVEL: 'silent', ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.end(o.stdin ?? '');
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

/** Runs at most `n` at a time (two cores: spawning all at once only thrashes). */
async function pool<T, R>(items: T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await f(items[i]!);
      }
    }),
  );
  return results;
}

const oneLine = (r: Run) => {
  assert.equal(r.err.trim().split('\n').length, 1, `one line on stderr: ${r.err}`);
  return r.err.trim();
};

let s: TestServer;
let env: Record<string, string>;
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'frontdesk-cli-'));
  dirs.push(d);
  return d;
};

before(async () => {
  s = await startServer({ FRONTDESK_VERIFIER_SECRET: SECRET, FRONTDESK_ADMIN_USERNAME: 'root', FRONTDESK_ADMIN_PASSWORD: PASSWORD });
  env = { FRONTDESK_DATA_DIR: s.dataDir, FRONTDESK_ISSUER: s.config.issuer };
});
after(async () => {
  await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('frontdesk: help, usage errors and exit codes', () => {
  it('--help everywhere answers 0 with the usage; a missing command answers 2', async () => {
    const commands = ['serve', 'decode', 'verify', 'keys list', 'keys rotate', 'users add', 'users list', 'users disable', 'users enable', 'users role', 'sessions list', 'sessions revoke', 'sessions wipe'];
    const [top, bare, ...rest] = await pool([['--help'], [], ['users', '--help'], ['keys'], ...commands.map((c) => [...c.split(' '), '--help'])], 4, (a) => frontdesk(a));
    assert.equal(top!.code, 0);
    for (const c of commands) assert.ok(top!.out.includes(`  ${c} `), `top help lists ${c}`);
    assert.match(top!.out, /Exit codes: 0 ok; 1 refused or failed.*2 usage or configuration error/);
    assert.equal(bare!.code, 2);
    assert.match(bare!.err, /Usage: frontdesk <command>/);
    const [usersHelp, keysBare, ...each] = rest;
    assert.equal(usersHelp!.code, 0);
    assert.match(usersHelp!.out, /users add[\s\S]*users list[\s\S]*users disable[\s\S]*users role/);
    assert.equal(keysBare!.code, 2);
    commands.forEach((c, i) => {
      assert.equal(each[i]!.code, 0, c);
      assert.ok(each[i]!.out.startsWith(`Usage: frontdesk ${c}`), `${c}: ${each[i]!.out}`);
      assert.match(each[i]!.out, /--json/);
    });
  });

  it('unknown commands, unknown options, extra arguments and bad configuration are usage errors (2), in one line', async () => {
    const runs = await pool(
      [
        { args: ['frobnicate'] },
        { args: ['users', 'frobnicate'] },
        { args: ['users', 'list', '--bogus'] },
        { args: ['decode', 'a', 'b'] },
        { args: ['users', 'list'], env: { ...env, FRONTDESK_JWT_ALG: 'none' } },
        { args: ['users', 'list'], env: { FRONTDESK_DATA_DIR: join(tmpdir(), 'frontdesk-no-such-dir') } },
        { args: ['users', 'list', '--json'], env: { ...env, FRONTDESK_ACCESS_TTL: 'ten' } },
      ],
      4,
      (r) => frontdesk(r.args, { env: r.env ?? env }),
    );
    for (const r of runs) {
      assert.equal(r.code, 2, r.err);
      assert.equal(r.out, '');
      oneLine(r);
    }
    assert.match(runs[0]!.err, /^frontdesk: unknown command "frobnicate"/);
    assert.match(runs[2]!.err, /Unknown option '--bogus'/);
    assert.match(runs[4]!.err, /invalid configuration: FRONTDESK_JWT_ALG must be one of/);
    assert.match(runs[5]!.err, /no database at .*frontdesk-no-such-dir/);
    assert.deepEqual(Object.keys(JSON.parse(runs[6]!.err) as object), ['error'], 'with --json the error is JSON');
    assert.match(runs[6]!.err, /FRONTDESK_ACCESS_TTL/);
  });
});

describe('frontdesk decode', () => {
  const nowS = Math.floor(Date.now() / 1000);
  const risky = `${b64u(JSON.stringify({ alg: 'none', jku: 'https://evil.example/k' }))}.${b64u(JSON.stringify({ sub: 'u', password: 'hunter2', iat: nowS, exp: nowS + 7200 }))}.`;

  it('shows header, claims with dates, and warnings; --json and standard input too', async () => {
    const [human, json, stdin, real, noExp] = await pool(
      [
        { args: ['decode', risky] },
        { args: ['decode', risky, '--json'] },
        { args: ['decode', '-', '--json'], stdin: `${risky}\n` },
        { args: ['decode', (await jwtLogin(s.url, 'decoded')).token] },
        { args: ['decode', `${b64u('{"alg":"EdDSA"}')}.${b64u('{"sub":"x"}')}.c2ln`, '--json'] },
      ],
      4,
      (r) => frontdesk(r.args, r.stdin === undefined ? {} : { stdin: r.stdin }),
    );
    assert.equal(human!.code, 0, human!.err);
    assert.match(human!.out, /^Header\n {2}alg {2}none/);
    assert.match(human!.out, new RegExp(`exp +${nowS + 7200} +${new Date((nowS + 7200) * 1000).toISOString().replace(/\./g, '\\.')} \\(in 1\\d\\d min\\)`));
    assert.match(human!.out, /Signature: 0 bytes, not checked/);
    assert.match(human!.out, /alg is "none"/);
    assert.match(human!.out, /header carries "jku"/);
    assert.match(human!.out, /lifetime is 2 h \(more than an hour\)/);
    assert.match(human!.out, /claim "password" looks secret/);

    for (const r of [json!, stdin!]) {
      assert.equal(r.code, 0, r.err);
      const d = JSON.parse(r.out) as { header: { alg: string }; payload: { sub: string }; times: { exp: string }; warnings: string[]; verified: boolean };
      assert.equal(d.header.alg, 'none');
      assert.equal(d.payload.sub, 'u');
      assert.equal(d.times.exp, new Date((nowS + 7200) * 1000).toISOString());
      assert.equal(d.warnings.length, 4);
      assert.equal(d.verified, false);
    }
    assert.equal(real!.code, 0);
    assert.match(real!.out, /typ +at\+jwt/);
    assert.match(real!.out, /Warnings: none/);
    assert.match((JSON.parse(noExp!.out) as { warnings: string[] }).warnings.join(), /No exp claim/);
  });

  it('fails (1) in one line on what is not a JWT', async () => {
    const runs = await pool([['decode', 'not-a-token'], ['decode', 'a.b.c.d.e'], ['decode', `${b64u('[1]')}.${b64u('{}')}.`]], 3, (a) => frontdesk(a));
    for (const r of runs) assert.equal(r.code, 1, r.err);
    assert.match(oneLine(runs[0]!), /3 dot-separated parts/);
    assert.match(oneLine(runs[1]!), /encrypted JWE/);
    assert.match(oneLine(runs[2]!), /header is not a JSON object/);
    const empty = await frontdesk(['decode']);
    assert.equal(empty.code, 2);
  });
});

describe('frontdesk verify', () => {
  it('checks a token against the JWKS URL, a key file or an HS256 secret', async () => {
    const { token, sub } = await jwtLogin(s.url, 'verified');
    const dir = tempDir();
    const jwks = (await (await fetch(`${s.url}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks));
    const pem = createPublicKey({ key: jwks.keys[0] as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(join(dir, 'key.pem'), pem);
    const nowS = Math.floor(Date.now() / 1000);
    const hsClaims = { iss: s.config.issuer, aud: 'frontdesk', sub: 'h', name: 'h', role: 'user', iat: nowS, exp: nowS + 60, jti: 'j' };
    const hs = signRaw({ alg: 'HS256', privateKey: b64u('shared secret') }, { alg: 'HS256', typ: 'at+jwt', kid: 'k' }, hsClaims);
    const jwksUrl = `${s.url}/.well-known/jwks.json`;

    const runs = await pool(
      [
        ['verify', token, '--jwks', jwksUrl],
        ['verify', token, '--jwks', jwksUrl, '--json'],
        ['verify', token, '--key', join(dir, 'jwks.json')],
        ['verify', token, '--key', join(dir, 'key.pem'), '--iss', s.config.issuer, '--aud', 'frontdesk'],
        ['verify', hs, '--secret', 'shared secret'],
        // Refused: exit 1.
        ['verify', token, '--jwks', jwksUrl, '--aud', 'another-service'],
        ['verify', token, '--jwks', jwksUrl, '--aud', 'another-service', '--json'],
        ['verify', hs, '--secret', 'wrong secret'],
        ['verify', token, '--secret', 'shared secret'],
        ['verify', token, '--jwks', 'http://127.0.0.1:9/jwks.json'],
        // Usage: exit 2.
        ['verify', token],
        ['verify', token, '--jwks', jwksUrl, '--secret', 'x'],
        ['verify', token, '--key', join(dir, 'missing.pem')],
        ['verify', token, '--jwks', jwksUrl, '--alg', 'none'],
      ],
      4,
      (a) => frontdesk(a, { env }),
    );
    const [ok, okJson, okJwksFile, okPem, okHs, badAud, badAudJson, badSecret, wrongAlg, noJwks, ...usage] = runs;
    for (const r of [ok!, okJson!, okJwksFile!, okPem!, okHs!]) assert.equal(r.code, 0, r.err);
    assert.match(ok!.out, /^valid: EdDSA signature, issuer, audience, type and times check out \(revocation not checked\)/);
    assert.match(ok!.out, new RegExp(`sub +${sub}`));
    const j = JSON.parse(okJson!.out) as { valid: boolean; claims: { sub: string }; times: { exp: string } };
    assert.equal(j.valid, true);
    assert.equal(j.claims.sub, sub);
    assert.match(j.times.exp, /^\d{4}-\d\d-\d\dT/);
    assert.match(okHs!.out, /^valid: HS256/);

    for (const r of [badAud!, badAudJson!, badSecret!, wrongAlg!, noJwks!]) {
      assert.equal(r.code, 1, r.err);
      oneLine(r);
    }
    assert.match(badAud!.err, /^frontdesk: token refused: The token issuer, audience or required claims are not accepted\./);
    assert.deepEqual(JSON.parse(badAudJson!.err), { error: { code: 'invalid_token', message: 'token refused: The token issuer, audience or required claims are not accepted.' } });
    assert.match(badSecret!.err, /signature is invalid/);
    assert.match(wrongAlg!.err, /algorithm is not accepted/);
    assert.match(noJwks!.err, /could not load the JWKS/);
    for (const r of usage) {
      assert.equal(r.code, 2, r.err);
      oneLine(r);
    }
  });
});

describe('frontdesk keys, users and sessions on the store of a running server', () => {
  it('keys list and rotate', async () => {
    const before = await frontdesk(['keys', 'list', '--json'], { env });
    assert.equal(before.code, 0, before.err);
    const keys0 = (JSON.parse(before.out) as { keys: { kid: string; status: string; alg: string }[] }).keys;
    assert.deepEqual(
      keys0.map((k) => [k.alg, k.status]),
      [['EdDSA', 'current']],
    );
    assert.doesNotMatch(before.out, /PRIVATE|privateKey|"d"/);
    const rotated = await frontdesk(['keys', 'rotate', '--json'], { env });
    assert.equal(rotated.code, 0, rotated.err);
    const { kid } = JSON.parse(rotated.out) as { kid: string };
    assert.equal(rotated.err, '');
    // The running server hears the key event by polling the database, and signs with the new key.
    const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    const t0 = Date.now();
    let signedWith = kidOf((await jwtLogin(s.url, 'rotation-watcher')).token);
    while (signedWith !== kid && Date.now() - t0 < 2000) {
      await new Promise((r) => setTimeout(r, 50));
      signedWith = kidOf((await jwtLogin(s.url, 'rotation-watcher')).token);
    }
    assert.equal(signedWith, kid, 'new logins at the running server carry the rotated key');
    const list = await frontdesk(['keys', 'list'], { env });
    assert.equal(list.code, 0);
    assert.match(list.out, /^KID +ALG +STATUS +CREATED +PUBLISHED UNTIL/);
    assert.match(list.out, new RegExp(`${kid} +EdDSA +current`));
    assert.match(list.out, new RegExp(`${keys0[0]!.kid} +EdDSA +retired +\\S+ +\\d{4}-`));
  });

  it('users add, list, role, disable and enable', async () => {
    const [added, again, badName, noPassword] = await pool(
      [
        { args: ['users', 'add', 'carol', '--password-stdin', '--name', 'Carol C', '--json'], stdin: `${PASSWORD}\n` },
        { args: ['users', 'add', 'CAROL', '--password', PASSWORD] },
        { args: ['users', 'add', 'x', '--password-stdin'], stdin: PASSWORD },
        { args: ['users', 'add', 'dave'] },
      ],
      1,
      (r) => frontdesk(r.args, { env, ...(r.stdin !== undefined && { stdin: r.stdin }) }),
    );
    assert.equal(added!.code, 0, added!.err);
    const user = (JSON.parse(added!.out) as { user: { id: string; username: string; name: string; role: string } }).user;
    assert.deepEqual([user.username, user.name, user.role], ['carol', 'Carol C', 'user']);
    assert.equal(again!.code, 1);
    assert.equal(oneLine(again!), 'frontdesk: That username is taken.');
    assert.equal(badName!.code, 2);
    assert.match(oneLine(badName!), /Username must be 3 to 64 characters/);
    assert.equal(noPassword!.code, 2);

    // The CLI's user signs in at the running server.
    const login = () => new Client(s.url).post<{ access_token: string; user: { role: string } }>('/auth/login', { username: 'carol', password: PASSWORD, mode: 'jwt' });
    assert.equal((await login()).status, 200);

    const [list, listQ, role, missing] = await pool(
      [['users', 'list', '--json'], ['users', 'list', '--q', 'car'], ['users', 'role', 'carol', 'admin', '--json'], ['users', 'role', 'nobody', 'admin']],
      2,
      (a) => frontdesk(a, { env }),
    );
    assert.equal(list!.code, 0);
    const names = (JSON.parse(list!.out) as { users: { username: string }[] }).users.map((u) => u.username);
    assert.ok(names.includes('carol') && names.includes('root'), names.join());
    assert.match(listQ!.out, /^USERNAME +ID +ROLE +DISABLED +NAME\ncarol +\S+ +user +no +Carol C\n$/);
    assert.equal(role!.code, 0, role!.err);
    assert.equal((JSON.parse(role!.out) as { user: { role: string } }).user.role, 'admin');
    assert.equal(role!.err, '', 'nothing to warn about: a running server polls SQLite for the event');
    assert.equal((await login()).body.user.role, 'admin', 'the next login carries the new role');
    assert.equal(missing!.code, 1);
    assert.equal(oneLine(missing!), 'frontdesk: no user "nobody"');

    const disabled = await frontdesk(['users', 'disable', user.id], { env });
    assert.equal(disabled.code, 0, disabled.err);
    assert.match(disabled.out, /^updated carol \(id \S+, role admin, disabled\)/);
    assert.equal((await login()).status, 403, 'a disabled user cannot sign in');
    const enabled = await frontdesk(['users', 'enable', 'carol'], { env });
    assert.equal(enabled.code, 0);
    assert.equal((await login()).status, 200);
  });

  it('sessions list, revoke one, revoke all, and wipe', async () => {
    await new Client(s.url).post('/auth/register', { username: 'erin', password: PASSWORD });
    const cookie = new Client(s.url);
    await cookie.post('/auth/login', { username: 'erin', password: PASSWORD, mode: 'session' });
    const hybrid = new Client(s.url);
    const h = await hybrid.post<{ refresh_token: string }>('/auth/login', { username: 'erin', password: PASSWORD, mode: 'hybrid', refresh_in_body: true });

    const listed = await frontdesk(['sessions', 'list', 'erin', '--json'], { env });
    assert.equal(listed.code, 0, listed.err);
    const sessions = (JSON.parse(listed.out) as { sessions: { id: string; mode: string }[] }).sessions;
    assert.deepEqual(sessions.map((x) => x.mode).sort(), ['hybrid', 'session']);
    const human = await frontdesk(['sessions', 'list', 'erin'], { env });
    assert.match(human.out, /^ID +MODE +CREATED +LAST USED +USER AGENT\n/);

    // One: the cookie session ends at once on the running server (it reads sessions from the store).
    const one = await frontdesk(['sessions', 'revoke', 'erin', sessions.find((x) => x.mode === 'session')!.id], { env });
    assert.equal(one.code, 0, one.err);
    assert.match(one.out, /^ended session \S+ of erin/);
    assert.equal((await cookie.get('/auth/me')).status, 401);
    assert.equal((await hybrid.post('/auth/refresh', { refresh_token: h.body.refresh_token })).status, 200, 'the other survives');
    const unknown = await frontdesk(['sessions', 'revoke', 'erin', 'no-such-session'], { env });
    assert.equal(unknown.code, 1);
    assert.equal(oneLine(unknown), 'frontdesk: No such session.');

    // All of erin's: the refresh family dies at once too.
    const all = await frontdesk(['sessions', 'revoke', 'erin', '--json'], { env });
    assert.equal(all.code, 0, all.err);
    assert.deepEqual(JSON.parse(all.out), { revoked: 'all', user: 'erin' });
    const after = JSON.parse((await frontdesk(['sessions', 'list', 'erin', '--json'], { env })).out) as { sessions: unknown[] };
    assert.deepEqual(after.sessions, []);

    const [refused, wiped] = await pool([['sessions', 'wipe'], ['sessions', 'wipe', '--yes']], 1, (a) => frontdesk(a, { env }));
    assert.equal(refused!.code, 2);
    assert.match(oneLine(refused!), /add --yes/);
    assert.equal(wiped!.code, 0, wiped!.err);
    assert.match(wiped!.out, /^signed out everyone/);
  });

  it('revocations made by the CLI reach a server running on the same SQLite file within a second', async () => {
    const dataDir = tempDir();
    const server = await startServer({}, { dataDir });
    try {
      const { token } = await jwtLogin(server.url, 'frank');
      assert.equal((await new Client(server.url).get('/auth/me', { bearer: token })).status, 200);
      const r = await frontdesk(['users', 'disable', 'frank'], { env: { FRONTDESK_DATA_DIR: dataDir } });
      assert.equal(r.code, 0, r.err);
      const t0 = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - t0 < 1000) {
        status = (await new Client(server.url).get('/auth/me', { bearer: token })).status;
        if (status === 200) await new Promise((res) => setTimeout(res, 20));
      }
      assert.equal(status, 401, 'the running server polled the event from the database');
    } finally {
      await server.close();
    }
  });
});

describe('frontdesk serve', () => {
  it('serves the API from the environment and stops cleanly on SIGTERM', async () => {
    const port = await getFreePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', String(port)], {
      cwd: ROOT,
      env: { ...process.env, FRONTDESK_DATA_DIR: tempDir(), FRONTDESK_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (res) => res.ok,
        () => false,
      );
      if (ok) break;
      assert.ok(Date.now() < deadline && child.exitCode === null, `serve did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(out, /Frontdesk listening on http:\/\/127\.0\.0\.1:\d+/);
    const jwks = (await (await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    assert.equal(jwks.keys.length, 1);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
  });
});
