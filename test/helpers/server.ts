import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFrontdesk, type Frontdesk, type StartOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/core/config.js';
import { getFreePort } from '../harness/ports.js';

export interface TestServer {
  /** http://localhost:PORT — the server's own origin, as a browser sees it. */
  url: string;
  fd: Frontdesk;
  config: Config;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Starts a real Frontdesk in this process on a free port, with SQLite in a
 * fresh temp dir (unless `dataDir` is given, to test restarts).
 *
 * @example
 * const s = await startServer({ FRONTDESK_ACCESS_TTL: '5' });
 * await fetch(`${s.url}/healthz`);
 */
export async function startServer(
  env: Record<string, string> = {},
  opts: Omit<StartOptions, 'config'> & { dataDir?: string; config?: Partial<Config> } = {},
): Promise<TestServer> {
  const port = await getFreePort();
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'frontdesk-test-'));
  const config = loadConfig(
    {
      PORT: String(port),
      HOST: 'localhost',
      FRONTDESK_DATA_DIR: dataDir,
      FRONTDESK_ISSUER: `http://localhost:${port}`,
      FRONTDESK_LOG_LEVEL: 'silent',
      ...env,
    },
    opts.config,
  );
  const { dataDir: _d, config: _c, ...rest } = opts;
  const fd = await startFrontdesk({ ...rest, config });
  return {
    url: `http://localhost:${config.port}`,
    fd,
    config,
    dataDir,
    close: async () => {
      await fd.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
