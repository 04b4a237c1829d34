/** Compact JWS built by hand (node:crypto only), for tokens fast-jwt would refuse to sign. */
import { createHmac, sign } from 'node:crypto';
import type { KeyRecord } from '../../src/core/ports.js';

export const b64u = (s: string | Buffer): string => Buffer.from(s).toString('base64url');

/** A compact JWS over exactly this header and payload (objects, or JSON text taken verbatim), signed with a key record (independent of fast-jwt). */
export function signRaw(record: Pick<KeyRecord, 'alg' | 'privateKey'>, header: object | string, payload: object | string): string {
  const text = (v: object | string) => (typeof v === 'string' ? v : JSON.stringify(v));
  const input = `${b64u(text(header))}.${b64u(text(payload))}`;
  const data = Buffer.from(input);
  let sig: Buffer;
  switch (record.alg) {
    case 'EdDSA':
      sig = sign(null, data, record.privateKey);
      break;
    case 'ES256':
      sig = sign('sha256', data, { key: record.privateKey, dsaEncoding: 'ieee-p1363' });
      break;
    case 'RS256':
      sig = sign('sha256', data, record.privateKey);
      break;
    case 'HS256':
      sig = createHmac('sha256', Buffer.from(record.privateKey, 'base64url')).update(data).digest();
      break;
  }
  return `${input}.${b64u(sig)}`;
}
