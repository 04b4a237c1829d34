// Shared by the peer servers: the port they listen on, the READY line the bench
// runner waits for, and the claim set every JWT peer signs (the same claims a
// Frontdesk access token carries, so token sizes and parse costs are comparable).
import { generateKeyPairSync, randomBytes } from 'node:crypto';

export const HOST = '127.0.0.1';

/** The port the runner picked; a peer never chooses its own. */
export function port() {
  const p = Number(process.env.PORT);
  if (!Number.isInteger(p) || p <= 0 || p > 65535) {
    console.error('PORT must be set to a TCP port');
    process.exit(2);
  }
  return p;
}

/**
 * Tells the runner the server is listening and which request to replay.
 * One line on stdout: `READY {"method":"GET","path":"/me","headers":{...}}`.
 */
export function ready(request) {
  process.stdout.write(`READY ${JSON.stringify({ method: 'GET', ...request })}\n`);
}

export const ISSUER = 'http://127.0.0.1';
export const AUDIENCE = 'frontdesk';

export function claims(nowSeconds = Math.floor(Date.now() / 1000)) {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'u_4f1c2a9e7b3d4c58',
    name: 'Ada Lovelace',
    role: 'user',
    iat: nowSeconds,
    exp: nowSeconds + 3600,
    jti: randomBytes(16).toString('base64url'),
  };
}

/** Key material for `alg` as node KeyObjects (HS256: one secret for both). */
export function keysFor(alg) {
  switch (alg) {
    case 'EdDSA':
      return generateKeyPairSync('ed25519');
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'HS256': {
      const secret = randomBytes(32);
      return { privateKey: secret, publicKey: secret };
    }
    default:
      throw new Error(`unsupported ALG ${alg}`);
  }
}

export function bearer(authorization) {
  if (typeof authorization !== 'string' || !authorization.startsWith('Bearer ')) return null;
  return authorization.slice(7);
}

export const onFatal = (err) => {
  console.error(err);
  process.exit(1);
};
