import { createPublicKey, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import type { Random } from './clock.js';
import type { JwtAlg } from './config.js';
import type { KeyRecord } from './ports.js';
import { newId } from './secrets.js';

/** A verified payload as fast-jwt returns it. */
export type RawPayload = Record<string, unknown>;

export interface VerifyOptions {
  issuer: string;
  audience: string;
}

interface RingKey {
  record: KeyRecord;
  /** Signature + iss/aud check; time claims are checked by the caller with the injected clock. */
  verify: (token: string) => RawPayload;
}

/**
 * Generates a signing key. Private keys are PKCS#8 PEM; HS256 gets a 256-bit secret.
 * Key generation draws on node:crypto's own CSPRNG (the API offers no other source).
 */
export function generateKey(alg: JwtAlg, now: number, random: Random): KeyRecord {
  const kid = newId(random);
  let privateKey: string;
  let publicJwk: Record<string, unknown> | null = null;
  if (alg === 'HS256') {
    privateKey = random.bytes(32).toString('base64url');
  } else {
    const pair =
      alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : alg === 'ES256'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('rsa', { modulusLength: 2048 });
    privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    publicJwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  }
  return { kid, alg, privateKey, publicJwk, createdAt: now, retiredAt: null, publishUntil: null };
}

function publicKeyOf(record: KeyRecord): KeyObject {
  return createPublicKey(createPrivateKey(record.privateKey));
}

/**
 * Keys are a ring: sign with the current key, verify with every published one.
 * A retired key stays published until `publishUntil`, by which time every
 * token it signed has expired.
 *
 * @example
 * const ring = new Keyring('EdDSA', await stores.keys.listKeys(), { issuer, audience });
 * const token = ring.sign({ sub: 'u1', ... });
 */
export class Keyring {
  private byKid = new Map<string, RingKey>();
  private signer: ((payload: RawPayload) => string) | undefined;
  private currentKid: string | undefined;

  constructor(
    readonly alg: JwtAlg,
    records: KeyRecord[],
    private readonly opts: VerifyOptions,
  ) {
    this.load(records);
  }

  /** Replaces the ring's content (after a rotation here or on another node). */
  load(records: KeyRecord[]): void {
    const byKid = new Map<string, RingKey>();
    let current: KeyRecord | undefined;
    for (const r of records) {
      // Only keys of the pinned algorithm can verify: a token's alg must be exactly the configured one.
      if (r.alg !== this.alg) continue;
      const key = r.alg === 'HS256' ? Buffer.from(r.privateKey, 'base64url') : publicKeyOf(r).export({ type: 'spki', format: 'pem' });
      byKid.set(r.kid, {
        record: r,
        verify: createVerifier({
          key,
          algorithms: [this.alg],
          allowedIss: this.opts.issuer,
          allowedAud: this.opts.audience,
          requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'jti'],
          // Time is checked by the caller against the injected clock.
          ignoreExpiration: true,
          ignoreNotBefore: true,
        }) as (token: string) => RawPayload,
      });
      if (r.retiredAt === null && (!current || r.createdAt >= current.createdAt)) current = r;
    }
    this.byKid = byKid;
    this.currentKid = current?.kid;
    this.signer = current
      ? createSigner<RawPayload>({
          key: current.alg === 'HS256' ? Buffer.from(current.privateKey, 'base64url') : current.privateKey,
          algorithm: this.alg,
          header: { alg: this.alg, typ: 'at+jwt', kid: current.kid },
        })
      : undefined;
  }

  get kid(): string | undefined {
    return this.currentKid;
  }

  sign(payload: RawPayload): string {
    if (!this.signer) throw new Error('no current signing key for ' + this.alg);
    return this.signer(payload);
  }

  /** The verifier for a published key, or undefined. */
  verifierFor(kid: string, nowMs: number): ((token: string) => RawPayload) | undefined {
    const k = this.byKid.get(kid);
    if (k === undefined) return undefined;
    const until = k.record.publishUntil;
    return until === null || until > nowMs ? k.verify : undefined;
  }

  /** The public JWKS (RFC 7517): every key still published. Empty for HS256. */
  jwks(nowMs: number): { keys: Record<string, unknown>[] } {
    const keys: Record<string, unknown>[] = [];
    for (const { record } of this.byKid.values()) {
      if (record.publicJwk && (record.publishUntil === null || record.publishUntil > nowMs)) keys.push(record.publicJwk);
    }
    return { keys };
  }
}
