import { startFrontdesk } from './app.js';
import { ConfigError, loadConfig } from './core/config.js';

/** `npm start`: read the environment, start, and shut down gracefully on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`frontdesk: invalid configuration: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const fd = await startFrontdesk({ config });
  fd.log.info({ url: fd.url, modes: config.modes, alg: config.jwtAlg }, `Frontdesk listening on ${fd.url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    fd.log.info({ signal }, 'shutting down: finishing in-flight requests');
    fd.close().then(
      () => process.exit(0),
      (err: unknown) => {
        fd.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`frontdesk: failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
