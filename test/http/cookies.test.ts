import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { readCookie, SESSION } from '../../src/http/cookies.js';

const req = (cookie: string | undefined) => ({ headers: cookie === undefined ? {} : { cookie } }) as unknown as FastifyRequest;

describe('readCookie', () => {
  it('finds a cookie wherever it stands in the header', () => {
    assert.equal(readCookie(req('__Host-session=abc'), SESSION), 'abc');
    assert.equal(readCookie(req('a=1; __Host-session=abc; b=2'), SESSION), 'abc');
    assert.equal(readCookie(req('a=1;__Host-session=abc'), SESSION), 'abc');
    assert.equal(readCookie(req('a=1;   __Host-session=abc  ;b=2'), SESSION), 'abc');
  });

  it('does not match a name that merely contains or extends it', () => {
    assert.equal(readCookie(req('x__Host-session=evil'), SESSION), undefined);
    assert.equal(readCookie(req('__Host-sessions=evil'), SESSION), undefined);
    assert.equal(readCookie(req('a=__Host-session=evil'), SESSION), undefined);
    assert.equal(readCookie(req('x__Host-session=evil; __Host-session=good'), SESSION), 'good');
  });

  it('answers undefined with no cookie header or an empty value', () => {
    assert.equal(readCookie(req(undefined), SESSION), undefined);
    assert.equal(readCookie(req('__Host-session='), SESSION), undefined);
  });
});
