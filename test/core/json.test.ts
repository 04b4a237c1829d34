import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasDuplicateMembers } from '../../src/core/json.js';

// hasDuplicateMembers must agree with a real parser about what a member name is (RFC 8259 §4,
// RFC 7515 §4: a JOSE header with a duplicate name must be rejected). Every input is valid JSON,
// as the function requires; `check` asserts that first so a typo cannot pass as a negative.
function check(text: string, expected: boolean): void {
  assert.doesNotThrow(() => JSON.parse(text), `test input must be valid JSON: ${text}`);
  assert.equal(hasDuplicateMembers(text), expected, text);
}

void describe('hasDuplicateMembers', () => {
  void it('finds a name repeated in a flat object', () => {
    check('{"a":1,"a":1}', true);
    check('{"a":1,"b":2,"a":3}', true);
    check('{ "alg" : "EdDSA" , "typ":"at+jwt", "alg":"none" }', true);
  });

  void it('answers false for objects whose names are all distinct', () => {
    check('{}', false);
    check('{"a":1,"b":2,"c":3}', false);
    check('{"alg":"EdDSA","typ":"at+jwt","kid":"k1"}', false);
    check('[]', false);
    check('"a"', false);
    check('1', false);
    check('null', false);
  });

  void it('finds a repeat inside a nested object', () => {
    check('{"a":{"b":1,"b":2}}', true);
    check('{"a":{"b":{"c":{"d":1,"d":1}}}}', true);
    check('{"x":1,"a":{"b":1},"x":2}', true);
  });

  void it('finds a repeat in an object inside an array', () => {
    check('[{"a":1,"a":2}]', true);
    check('{"list":[1,{"k":1},{"k":1,"k":2}]}', true);
    check('[[[{"a":1,"a":1}]]]', true);
  });

  void it('treats an escaped spelling as the same name ("a" and "\\u0061")', () => {
    check('{"a":1,"\\u0061":2}', true);
    check('{"\\u0061":1,"a":2}', true);
    check('{"\\u0061":1,"\\u0061":2}', true);
    check('{"sub":"x","\\u0073\\u0075\\u0062":"y"}', true);
    check('{"a\\/b":1,"a/b":2}', true);
    check('{"\\u00e9":1,"é":2}', true);
  });

  void it('keeps names that differ only after unescaping apart', () => {
    check('{"a":1,"\\u0062":2}', false);
    check('{"a\\"":1,"a":2}', false);
    check('{"a\\\\":1,"a":2}', false);
    check('{"A":1,"a":2}', false);
  });

  void it('is not fooled by braces, quotes, colons and commas inside strings', () => {
    check('{"a":"}{","b":1}', false);
    check('{"a":"}{","a":1}', true);
    check('{"a":"\\",\\"a\\":1","b":2}', false);
    check('{"a":"x\\"","a":2}', true);
    check('{"a":",\\"a\\":","b":"{\\"b\\":1,\\"b\\":2}"}', false);
    check('{"k":"[{","k2":"]}","k":0}', true);
    check('{"a\\\\":"\\\\","b":"\\\\\\""}', false);
    check('{"a,b":1,"a":2,"b":3}', false);
    check('{"a:b":1,"a":2}', false);
  });

  void it('does not count a string value that equals a member name', () => {
    check('{"a":"a"}', false);
    check('{"a":["a","a"],"b":"a"}', false);
    check('{"a":"b","b":"a"}', false);
  });

  void it('does not treat the strings of an array as member names', () => {
    check('["a","a","a"]', false);
    check('{"x":["k","k","k"],"k":1}', false);
    check('{"aud":["frontdesk","frontdesk","frontdesk"]}', false);
  });

  void it('gives no false positive on the same name in sibling objects', () => {
    check('[{"a":1},{"a":1}]', false);
    check('{"x":{"a":1},"y":{"a":1}}', false);
    check('{"a":{"a":{"a":1}}}', false);
    check('{"a":[{"a":1},{"a":2}],"b":{"a":3}}', false);
    check('{"x":{"a":1,"b":{}},"y":{"a":1,"b":[]}}', false);
  });

  void it('still checks the outer object after a nested one closes', () => {
    check('{"a":{"z":1},"b":[1,2],"a":0}', true);
    check('{"a":[{"b":1}],"b":1,"c":{"d":[]},"c":1}', true);
  });

  void it('handles whitespace, literals and numbers between members', () => {
    check('{\r\n "iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}', false);
    check('{ "a" : true , "b" : null , "c" : -1.5e3 , "a" : false }', true);
  });
});
