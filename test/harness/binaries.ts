/**
 * Finds the server binaries the tests need, installing them from Debian's
 * packages when they are missing and we may (root on Debian), so a fresh machine
 * runs the suite without a manual setup step. `.ci/run` installs the same packages
 * up front in one apt call; this is the fallback for `npm test` on a new machine.
 */
import { spawn } from 'node:child_process';
import { constants, accessSync, existsSync, readdirSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The binaries the harness knows how to find and install. */
export type BinaryName = 'redis-server' | 'redis-cli' | 'postgres' | 'initdb' | 'chromium';

/** The Debian package that provides each binary. */
const PACKAGE: Record<BinaryName, string> = {
  'redis-server': 'redis-server', // depends on redis-tools, which has redis-cli
  'redis-cli': 'redis-server',
  postgres: 'postgresql',
  initdb: 'postgresql',
  chromium: 'chromium',
};

/** Names to look for on PATH, in order. */
const PATH_NAMES: Record<BinaryName, readonly string[]> = {
  'redis-server': ['redis-server'],
  'redis-cli': ['redis-cli'],
  postgres: ['postgres'],
  initdb: ['initdb'],
  chromium: ['chromium', 'chromium-browser'],
};

const PG_ROOT = '/usr/lib/postgresql';
// apt waits this long (seconds) for a dpkg lock held by another apt run.
const APT_LOCK_OPTS = ['-o', 'DPkg::Lock::Timeout=300'];

/**
 * Thrown when a binary is missing and cannot be installed from here. The message
 * is exactly the command that installs it, so a developer can copy it.
 */
export class MissingBinaryError extends Error {
  constructor(
    readonly binary: BinaryName,
    readonly command: string,
    options?: ErrorOptions,
  ) {
    super(command, options);
    this.name = 'MissingBinaryError';
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** PostgreSQL's Debian layout: /usr/lib/postgresql/<major>/bin, newest major first. */
function findInPgRoot(name: string): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync(PG_ROOT).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const p = join(PG_ROOT, v, 'bin', name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function findOnPath(names: readonly string[]): string | undefined {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  // Debian puts some server binaries in sbin, which a non-login PATH can lack.
  for (const extra of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) if (!dirs.includes(extra)) dirs.push(extra);
  for (const name of names) {
    for (const dir of dirs) {
      const p = join(dir, name);
      if (isExecutable(p)) return p;
    }
  }
  return undefined;
}

/**
 * Where `name` is installed, or undefined. PostgreSQL binaries come from the newest
 * /usr/lib/postgresql/<major>/bin first, so initdb and postgres are of one version
 * even if PATH holds another one.
 */
export function findBinary(name: BinaryName): string | undefined {
  if (name === 'postgres' || name === 'initdb') return findInPgRoot(name) ?? findOnPath(PATH_NAMES[name]);
  return findOnPath(PATH_NAMES[name]);
}

function canAptInstall(): boolean {
  return process.getuid?.() === 0 && existsSync('/etc/debian_version') && process.env['FRONTDESK_NO_AUTO_INSTALL'] !== '1';
}

function installCommand(pkg: string): string {
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${pkg}`;
}

/** Runs a command, resolving with its output; rejects with the output's tail on failure. */
async function run(file: string, args: readonly string[]): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${file} ${args.join(' ')} failed (${signal ?? `exit ${String(code)}`}):\n${out.slice(-3000)}`));
    });
  });
}

/**
 * Runs apt-get, retrying when another apt run holds a lock that the
 * DPkg::Lock::Timeout option does not cover (apt-get update's lists lock).
 */
async function aptGet(args: readonly string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await run('apt-get', [...APT_LOCK_OPTS, ...args]);
      return;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (attempt >= 60 || !/Could not get lock|Unable to lock|Unable to acquire/i.test(msg)) throw err;
      await sleep(5000);
    }
  }
}

const LOCK_PATH = join(tmpdir(), 'frontdesk-harness-apt.lock');

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A lock file shared by the test processes that run in parallel, so only one of
 * them runs apt at a time (the others would fail on dpkg's lock, or install twice).
 * A lock left by a process that died is taken over.
 */
async function withInstallLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      const fh = await open(LOCK_PATH, 'wx');
      try {
        await fh.writeFile(String(process.pid));
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number((await readFile(LOCK_PATH, 'utf8').catch(() => '')).trim());
      // An empty file is a holder between open and write: give it time, not the lock.
      if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
        await unlink(LOCK_PATH).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${LOCK_PATH} (held by pid ${holder})`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(LOCK_PATH).catch(() => undefined);
  }
}

let aptUpdated: Promise<void> | undefined;
const installs = new Map<string, Promise<void>>();

async function installPackage(pkg: string, name: BinaryName): Promise<void> {
  await withInstallLock(async () => {
    // Another test process may have installed it while we waited for the lock.
    if (findBinary(name) !== undefined) return;
    process.stderr.write(`[harness] ${name} is missing: apt-get install ${pkg} (once per machine)\n`);
    // Once per process; a failed update is tried again by the next install.
    aptUpdated ??= aptGet(['update']).catch((err: unknown) => {
      aptUpdated = undefined;
      throw err;
    });
    await aptUpdated;
    await aptGet(['install', '-y', '--no-install-recommends', pkg]);
  });
}

/**
 * Returns the absolute path of `name`, installing its Debian package first if it
 * is missing and this process is root on Debian (set FRONTDESK_NO_AUTO_INSTALL=1
 * to forbid that). Otherwise throws {@link MissingBinaryError}, whose message is
 * the install command.
 */
export async function ensureBinary(name: BinaryName): Promise<string> {
  const found = findBinary(name);
  if (found !== undefined) return found;
  const pkg = PACKAGE[name];
  const command = installCommand(pkg);
  if (!canAptInstall()) throw new MissingBinaryError(name, command);
  // One install per package per process, however many starters ask at once.
  let pending = installs.get(pkg);
  if (pending === undefined) {
    pending = installPackage(pkg, name);
    installs.set(pkg, pending);
    // A failed install may be retried by a later call.
    pending.catch(() => installs.delete(pkg));
  }
  try {
    await pending;
  } catch (err) {
    throw new MissingBinaryError(name, command, { cause: err });
  }
  const installed = findBinary(name);
  if (installed === undefined) {
    throw new MissingBinaryError(name, command, { cause: new Error(`${pkg} installed but ${name} not found`) });
  }
  return installed;
}
