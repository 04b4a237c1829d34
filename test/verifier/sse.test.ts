import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEvent } from '../../src/verifier/follower.js';
import { SseParser, type SseMessage } from '../../src/verifier/sse.js';

function parse(chunks: string[]): { messages: SseMessage[]; comments: string[] } {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const p = new SseParser(
    (m) => messages.push(m),
    (c) => comments.push(c),
  );
  for (const c of chunks) p.push(c);
  return { messages, comments };
}

const STREAM = 'id: 1\nevent: revocation\ndata: {"type":"jti","jti":"a","exp":9}\n\n: live\n\nid: 2\nevent: revocation\ndata: {"type":"all","not_before":5}\n\n: ping\n\n';

describe('the event-stream parser', () => {
  it('reads events, ids and comments as the server writes them', () => {
    const { messages, comments } = parse([STREAM]);
    assert.deepEqual(messages, [
      { id: '1', event: 'revocation', data: '{"type":"jti","jti":"a","exp":9}' },
      { id: '2', event: 'revocation', data: '{"type":"all","not_before":5}' },
    ]);
    assert.deepEqual(comments, ['live', 'ping']);
  });

  it('gives the same result whatever the chunking, one character at a time included', () => {
    const whole = parse([STREAM]);
    assert.deepEqual(parse([...STREAM]), whole);
    assert.deepEqual(parse([STREAM.slice(0, 17), STREAM.slice(17, 60), STREAM.slice(60)]), whole);
  });

  it('accepts CRLF and CR line ends, a CR split from its LF included', () => {
    const crlf = STREAM.replace(/\n/g, '\r\n');
    assert.deepEqual(parse([crlf]), parse([STREAM]));
    assert.deepEqual(parse([...crlf]), parse([STREAM]));
    assert.deepEqual(parse([STREAM.replace(/\n/g, '\r')]), parse([STREAM]));
  });

  it('joins multi-line data, keeps the last id, and ignores retry and unknown fields', () => {
    const { messages } = parse(['id: 7\nretry: 10\nfoo: bar\ndata: a\ndata:b\n\ndata: c\n\n']);
    assert.deepEqual(messages, [
      { id: '7', event: 'message', data: 'a\nb' },
      { id: '7', event: 'message', data: 'c' },
    ]);
  });

  it('refuses a line that never ends', () => {
    const p = new SseParser(() => {});
    assert.throws(() => p.push('x'.repeat((1 << 20) + 1)), /longer than 1 MiB/);
  });
});

describe('revocation events are read field by field', () => {
  it('accepts the four shapes of API.md', () => {
    assert.deepEqual(parseEvent('{"type":"jti","jti":"j","exp":1}'), { type: 'jti', jti: 'j', exp: 1 });
    assert.deepEqual(parseEvent('{"type":"user","sub":"u","not_before":1.5,"except":"s"}'), { type: 'user', sub: 'u', not_before: 1.5, except: 's' });
    assert.deepEqual(parseEvent('{"type":"user","sub":"u","not_before":1}'), { type: 'user', sub: 'u', not_before: 1 });
    assert.deepEqual(parseEvent('{"type":"all","not_before":2}'), { type: 'all', not_before: 2 });
    assert.deepEqual(parseEvent('{"type":"key","kid":"k"}'), { type: 'key', kid: 'k' });
  });

  it('says what is wrong with anything else', () => {
    for (const bad of ['nope', '[]', 'null', '{"type":"jti","jti":"j"}', '{"type":"user","sub":1,"not_before":1}', '{"type":"user","sub":"u","not_before":1,"except":3}', '{"type":"all"}', '{"type":"key"}', '{"type":"other"}']) {
      assert.equal(typeof parseEvent(bad), 'string', bad);
    }
  });
});
