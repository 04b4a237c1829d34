import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AuthError } from '../core/errors.js';
import { EXIT, FailedError, UsageError } from './errors.js';
import type { Io } from './io.js';

// Commands load their modules when run, so `--help` and `decode` start without the store, zod or Fastify.
const admin = () => import('./admin.js');
const tokens = () => import('./tokens.js');

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  usage: string;
  summary: string;
  /** Option help lines, after the common ones. */
  help?: string[];
  options?: Options;
  /** Most positionals accepted. */
  max: number;
  run(values: Values, positionals: string[], json: boolean, io: Io): Promise<number>;
}

const str = (v: Values, k: string) => v[k] as string | undefined;

const COMMANDS: Record<string, Command> = {
  serve: {
    usage: 'frontdesk serve [--port N] [--host H]',
    summary: 'Run the server, configured by the environment (as `npm start`).',
    help: ['--port N    listen port (overrides PORT)', '--host H    listen address (overrides HOST)'],
    options: { port: { type: 'string' }, host: { type: 'string' } },
    max: 0,
    run: async (v, _p, _j, io) => (await import('./serve.js')).serve({ port: str(v, 'port'), host: str(v, 'host'), io }),
  },
  bench: {
    usage: 'frontdesk bench [--quick] [--only CASES]',
    summary: 'Measure sessions vs JWTs on this machine, next to their peers (as `npm run bench`); writes bench/results/.',
    help: ['--quick        about a minute: short runs, a subset of cases', '--only CASES   comma-separated case names (`npm run bench -- --list`)'],
    options: { quick: { type: 'boolean' }, only: { type: 'string' } },
    max: 0,
    run: async (v) => {
      // The benchmark is development tooling (tsx, bench/peers): run it from the package, in its own process.
      const { spawnSync } = await import('node:child_process');
      // src/cli/ → the package root; dist/src/cli/ → dist/, whose parent is the root.
      const root = new URL('../../', import.meta.url).pathname.replace(/dist\/$/, '');
      const args = ['--import', 'tsx', 'bench/run.ts', ...(v.quick === true ? ['--quick'] : []), ...(str(v, 'only') ? ['--only', str(v, 'only')!] : [])];
      const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
      if (r.error) throw new FailedError(`could not run the benchmark: ${r.error.message}`);
      return r.status === 0 ? EXIT.ok : EXIT.failed;
    },
  },
  decode: {
    usage: 'frontdesk decode <token | ->',
    summary: 'Show a token\'s header, claims, dates and warnings. Checks nothing: use `verify` to trust it.',
    help: ['-           read the token from standard input (keeps it out of shell history)'],
    max: 1,
    run: async (_v, p, json, io) => (await tokens()).decodeCommand({ token: p[0], json, io }),
  },
  verify: {
    usage: 'frontdesk verify <token | -> (--jwks URL | --key FILE | --secret S) [--iss ISS] [--aud AUD] [--alg ALG]',
    summary: 'Check a token by API.md\'s rules: signature, alg, kid, typ, iss, aud and times (not revocation).',
    help: [
      '--jwks URL    the issuer\'s key set, e.g. http://localhost:3000/.well-known/jwks.json',
      '--key FILE    a public key: PEM, one JWK, or a JWKS file',
      '--secret S    the HS256 secret (as text)',
      '--iss ISS     expected issuer (default FRONTDESK_ISSUER or its default)',
      '--aud AUD     expected audience (default FRONTDESK_AUDIENCE or its default)',
      '--alg ALG     the one algorithm accepted (default: from the key, else FRONTDESK_JWT_ALG)',
    ],
    options: { jwks: { type: 'string' }, key: { type: 'string' }, secret: { type: 'string' }, iss: { type: 'string' }, aud: { type: 'string' }, alg: { type: 'string' } },
    max: 1,
    run: async (v, p, json, io) =>
      (await tokens()).verifyCommand({ token: p[0], jwks: str(v, 'jwks'), key: str(v, 'key'), secret: str(v, 'secret'), iss: str(v, 'iss'), aud: str(v, 'aud'), alg: str(v, 'alg'), json, io }),
  },
  'keys list': {
    usage: 'frontdesk keys list',
    summary: 'List signing keys: kid, algorithm, status and dates (never the private part).',
    max: 0,
    run: async (_v, _p, json, io) => (await admin()).keysList({ json, io }),
  },
  'keys rotate': {
    usage: 'frontdesk keys rotate',
    summary: 'Make a new signing key; the old one stays published until its tokens have expired.',
    max: 0,
    run: async (_v, _p, json, io) => (await admin()).keysRotate({ json, io }),
  },
  'users add': {
    usage: 'frontdesk users add <username> --password-stdin [--name NAME] [--role user|admin]',
    summary: 'Create a user (the database is created if there is none yet).',
    help: ['--password-stdin  read the password from standard input', '--password P      the password (visible to other local users: prefer --password-stdin)', '--name NAME        display name', '--role ROLE        user (default) or admin'],
    options: { 'password-stdin': { type: 'boolean' }, password: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' } },
    max: 1,
    run: async (v, p, json, io) =>
      (await admin()).usersAdd({ username: p[0], password: str(v, 'password'), passwordStdin: v['password-stdin'] === true, name: str(v, 'name'), role: str(v, 'role'), json, io }),
  },
  'users list': {
    usage: 'frontdesk users list [--q TEXT] [--limit N]',
    summary: 'List users, ordered by username.',
    help: ['--q TEXT    only usernames containing TEXT', '--limit N   page size, 1–100 (every page is listed)'],
    options: { q: { type: 'string' }, limit: { type: 'string' } },
    max: 0,
    run: async (v, _p, json, io) => (await admin()).usersList({ q: str(v, 'q'), limit: str(v, 'limit'), json, io }),
  },
  'users disable': {
    usage: 'frontdesk users disable <username | id>',
    summary: 'Disable a user: every session, refresh family and access token of theirs dies.',
    max: 1,
    run: async (_v, p, json, io) => (await admin()).usersPatch({ user: p[0], patch: { disabled: true }, json, io }),
  },
  'users enable': {
    usage: 'frontdesk users enable <username | id>',
    summary: 'Enable a disabled user again (they sign in afresh).',
    max: 1,
    run: async (_v, p, json, io) => (await admin()).usersPatch({ user: p[0], patch: { disabled: false }, json, io }),
  },
  'users role': {
    usage: 'frontdesk users role <username | id> <user | admin>',
    summary: 'Change a user\'s role; access tokens carrying the old role die.',
    max: 2,
    run: async (_v, p, json, io) => {
      if (p[1] === undefined) throw new UsageError('give the new role: user or admin');
      return (await admin()).usersPatch({ user: p[0], patch: { role: p[1] }, json, io });
    },
  },
  'sessions list': {
    usage: 'frontdesk sessions list <username | id>',
    summary: 'List a user\'s live sessions and hybrid refresh families.',
    max: 1,
    run: async (_v, p, json, io) => (await admin()).sessionsList({ user: p[0], json, io }),
  },
  'sessions revoke': {
    usage: 'frontdesk sessions revoke <username | id> [<session id>]',
    summary: 'End one session (by the id `sessions list` shows), or without an id every sign-in of the user.',
    max: 2,
    run: async (_v, p, json, io) => (await admin()).sessionsRevoke({ user: p[0], id: p[1], json, io }),
  },
  'sessions wipe': {
    usage: 'frontdesk sessions wipe --yes',
    summary: 'Sign out everyone, in every mode.',
    help: ['--yes       confirm'],
    options: { yes: { type: 'boolean' } },
    max: 0,
    run: async (v, _p, json, io) => (await admin()).sessionsWipe({ yes: v.yes === true, json, io }),
  },
};

const GROUPS: Record<string, string> = { keys: 'Signing keys.', users: 'User accounts.', sessions: 'Sign-ins of users.' };

const COMMON: Options = { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } };

const TOP_HELP = `frontdesk: the Frontdesk auth server and its tools

Usage: frontdesk <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(16)} ${c.summary}`)
  .join('\n')}

Options of every command:
  --json        machine-readable output (errors too, on stderr)
  -h, --help    help for the command

Exit codes: 0 ok; 1 refused or failed (the token, the user, the store); 2 usage or configuration error.
Commands that touch data use the server's environment variables (FRONTDESK_DATA_DIR, DATABASE_URL, …)
and work on its store directly. See docs/VERIFIER.md.`;

function commandHelp(name: string, c: Command): string {
  return [`Usage: ${c.usage} [--json]`, '', c.summary, '', 'Options:', ...(c.help ?? []).map((l) => `  ${l}`), '  --json        machine-readable output', '  -h, --help    this help'].join('\n');
}

function groupHelp(group: string): string {
  const subs = Object.entries(COMMANDS).filter(([n]) => n.startsWith(`${group} `));
  return [`Usage: frontdesk ${group} <${subs.map(([n]) => n.split(' ')[1]).join('|')}> [options]`, '', GROUPS[group] ?? '', '', ...subs.map(([n, c]) => `  ${n.padEnd(16)} ${c.summary}`)].join('\n');
}

/**
 * Runs one `frontdesk` command line and answers its exit code. Errors are one
 * line on stderr (JSON with --json); nothing here calls process.exit.
 */
export async function run(argv: string[], io: Io): Promise<number> {
  const json = argv.includes('--json');
  try {
    const first = argv[0];
    if (first === undefined) {
      io.err(TOP_HELP);
      return EXIT.usage;
    }
    if (first === '--help' || first === '-h' || first === 'help') {
      io.out(TOP_HELP);
      return EXIT.ok;
    }
    let name = first;
    let rest = argv.slice(1);
    if (GROUPS[first] !== undefined) {
      const sub = rest[0];
      if (sub === undefined || sub === '--help' || sub === '-h') {
        if (sub === undefined) {
          io.err(groupHelp(first));
          return EXIT.usage;
        }
        io.out(groupHelp(first));
        return EXIT.ok;
      }
      name = `${first} ${sub}`;
      rest = rest.slice(1);
      if (COMMANDS[name] === undefined) throw new UsageError(`unknown command "${name}" (see frontdesk ${first} --help)`);
    }
    const cmd = COMMANDS[name];
    if (cmd === undefined) throw new UsageError(`unknown command "${first}" (see frontdesk --help)`);
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({ args: rest, options: { ...COMMON, ...cmd.options }, allowPositionals: true, strict: true }) as typeof parsed;
    } catch (e) {
      throw new UsageError(`${(e as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, '')} (see frontdesk ${name} --help)`);
    }
    if (parsed.values.help === true) {
      io.out(commandHelp(name, cmd));
      return EXIT.ok;
    }
    if (parsed.positionals.length > cmd.max) throw new UsageError(`too many arguments for ${name} (see frontdesk ${name} --help)`);
    return await cmd.run(parsed.values, parsed.positionals, json, io);
  } catch (e) {
    const [code, exit, message] = classify(e);
    io.err(json ? JSON.stringify({ error: { code, message } }) : `frontdesk: ${message}`);
    return exit;
  }
}

function classify(e: unknown): [string, number, string] {
  const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ');
  if (e instanceof UsageError) return ['usage', EXIT.usage, oneLine(e.message)];
  if (e instanceof FailedError) return [e.code, EXIT.failed, oneLine(e.message)];
  if (e instanceof AuthError) {
    // Bad input to a core operation is the caller's mistake; everything else is the operation failing.
    return [e.code, e.code === 'invalid_request' ? EXIT.usage : EXIT.failed, oneLine(e.message)];
  }
  return ['failed', EXIT.failed, oneLine(e instanceof Error ? e.message : String(e))];
}
