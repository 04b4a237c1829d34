/** Polling for tests that wait on another process, a server or a timer they do not control. */

/** Resolves with the first value `probe` returns that is not undefined; fails naming `what` after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, everyMs = 10): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves once `probe` answers true. */
export async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 5000, everyMs = 10): Promise<void> {
  await eventually(what, async () => ((await probe()) ? true : undefined), timeoutMs, everyMs);
}
