/**
 * Serialized response bodies, reused while what they were built from is unchanged.
 * `GET /auth/me` with a session answers the same bytes until its user record or its
 * deadline change (token bodies hang off their verified claims: routes/auth.ts);
 * building and serialising them costs more than the rest of the request (measured
 * with callgrind: ~13k of ~90k instructions).
 *
 * An entry is used only when `source` is the very object it was built from (the
 * user cache hands out the same object until it changes) and `version` is equal,
 * so a stale body cannot be served. Bounded; oldest out first.
 */
export class BodyCache<K> {
  private readonly entries = new Map<K, { source: object; version: number; json: string }>();

  constructor(private readonly max = 10_000) {}

  get(key: K, source: object, version: number): string | undefined {
    const e = this.entries.get(key);
    return e !== undefined && e.source === source && e.version === version ? e.json : undefined;
  }

  set(key: K, source: object, version: number, json: string): string {
    if (this.entries.size >= this.max && !this.entries.has(key)) this.entries.delete(this.entries.keys().next().value as K);
    this.entries.set(key, { source, version, json });
    return json;
  }
}
