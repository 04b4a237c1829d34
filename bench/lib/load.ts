/**
 * The runner's side of the load generator: one long-lived child process
 * (load-worker.ts) that takes one job at a time. A job that overruns its time
 * budget kills the child; the next job gets a fresh one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadJob, LoadRunResult, LoadWorkerMessage } from './types.js';

const WORKER = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

export class LoadGenerator {
  private child: ChildProcess | null = null;
  private starting: Promise<ChildProcess> | null = null;

  constructor(private readonly cwd: string) {}

  /** Pid of the load-generator process, once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawn(): Promise<ChildProcess> {
    this.starting ??= new Promise<ChildProcess>((resolve, reject) => {
      const child = fork(WORKER, [], {
        cwd: this.cwd,
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, NODE_ENV: 'production' },
      });
      const onMsg = (m: LoadWorkerMessage): void => {
        if (m.type !== 'ready') return;
        child.off('message', onMsg);
        this.child = child;
        resolve(child);
      };
      child.on('message', onMsg);
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = null;
        this.starting = null;
        reject(new Error(`load generator exited (${signal ?? String(code)})`));
      });
    });
    return this.starting;
  }

  /**
   * Runs one job. `onMeasureStart` fires when the warm-up is over and the
   * measured run begins, so the caller can read the server's CPU counter then.
   */
  async run(job: LoadJob, onMeasureStart: () => void): Promise<LoadRunResult> {
    const child = await this.spawn();
    const budgetMs = (job.warmupSeconds + job.durationSeconds) * 1000 + 30_000;
    return new Promise<LoadRunResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        child.kill('SIGKILL');
        reject(new Error(`load run did not finish within ${budgetMs} ms`));
      }, budgetMs);
      const onMsg = (m: LoadWorkerMessage): void => {
        if (m.type === 'measure-start') onMeasureStart();
        else if (m.type === 'result') {
          cleanup();
          resolve(m.result);
        } else if (m.type === 'error') {
          cleanup();
          reject(new Error(m.message));
        }
      };
      const onExit = (): void => {
        cleanup();
        reject(new Error('load generator died during a run'));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('message', onMsg);
        child.off('exit', onExit);
      };
      child.on('message', onMsg);
      child.once('exit', onExit);
      child.send(job);
    });
  }

  /** Ends the child (it exits on disconnect). */
  close(): void {
    const c = this.child;
    this.child = null;
    this.starting = null;
    if (c?.connected) c.disconnect();
  }
}
