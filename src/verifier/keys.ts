import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createVerifier } from 'fast-jwt';
import type { JwtAlg } from '../core/config.js';
import type { RawPayload } from '../core/keyring.js';

/** Checks one token's signature (and iss/aud) with one key; throws fast-jwt's error otherwise. */
export type SignatureCheck = (token: string) => RawPayload;

export interface Expected {
  issuer: string;
  audience: string;
}

/** The asymmetric algorithms a verifier can check with public keys alone. */
export type PublicAlg = Exclude<JwtAlg, 'HS256'>;
export const PUBLIC_ALGS: readonly PublicAlg[] = ['EdDSA', 'ES256', 'RS256'];
export const ALL_ALGS: readonly JwtAlg[] = ['EdDSA', 'ES256', 'RS256', 'HS256'];

/**
 * A signature check for one key, with exactly the options the server's Keyring
 * uses: the algorithm pinned, iss and aud required to match, and time claims
 * left to the token checker (which reads the injected clock).
 */
export function signatureCheck(alg: JwtAlg, key: KeyObject | Buffer, expected: Expected): SignatureCheck {
  const material = Buffer.isBuffer(key) ? key : key.export({ type: 'spki', format: 'pem' });
  return createVerifier({
    key: material,
    algorithms: [alg],
    allowedIss: expected.issuer,
    allowedAud: expected.audience,
    requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'jti'],
    ignoreExpiration: true,
    ignoreNotBefore: true,
  }) as SignatureCheck;
}

/** The algorithm a public key is for, from its type (and curve). */
export function algOfKey(key: KeyObject): PublicAlg | undefined {
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'rsa') return 'RS256';
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  return undefined;
}

/**
 * Turns one member of a JWKS into a public key for `alg`, or says why it cannot
 * be used. A key for another algorithm is refused here, so a token's `alg` can
 * never pick a key of a different kind (RFC 8725 §3.1, alg confusion).
 */
export function publicKeyFromJwk(jwk: Record<string, unknown>, alg: PublicAlg): KeyObject | string {
  if (jwk.alg !== undefined && jwk.alg !== alg) return `its alg is ${JSON.stringify(jwk.alg)}, not ${alg}`;
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'it is not a signing key (use)';
  if ('d' in jwk) return 'it carries a private part; a key set must publish public keys only';
  const kty = jwk.kty;
  const fits = alg === 'EdDSA' ? kty === 'OKP' && jwk.crv === 'Ed25519' : alg === 'ES256' ? kty === 'EC' && jwk.crv === 'P-256' : kty === 'RSA';
  if (!fits) return `its key type does not fit ${alg}`;
  try {
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    if (alg === 'RS256' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return 'its RSA modulus is shorter than 2048 bits';
    return key;
  } catch {
    return 'it is not a valid JWK';
  }
}
