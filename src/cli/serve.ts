import { EXIT } from './errors.js';
import type { Io } from './io.js';
import { readConfig } from './store.js';

/** `frontdesk serve`: the server, as `npm start` runs it; stops gracefully on SIGTERM/SIGINT. */
export async function serve(a: { port: string | undefined; host: string | undefined; io: Io }): Promise<number> {
  const env = { ...a.io.env };
  if (a.port !== undefined) env.PORT = a.port;
  if (a.host !== undefined) env.HOST = a.host;
  const config = readConfig(env);
  const { startFrontdesk } = await import('../app.js');
  const fd = await startFrontdesk({ config });
  fd.log.info({ url: fd.url, modes: config.modes, alg: config.jwtAlg }, `Frontdesk listening on ${fd.url}`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      fd.log.info({ signal }, 'shutting down: finishing in-flight requests');
      fd.close().then(
        () => resolve(EXIT.ok),
        (err: unknown) => {
          fd.log.error({ err }, 'shutdown failed');
          resolve(EXIT.failed);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
