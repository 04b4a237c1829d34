import { auth, takeHandoff, type View } from '../app';
import { h, replace } from '../dom';
import { decodeJwt, explainClaims, explainHeader, prettyJson, verifySignature, warnings, type ClaimRow, type DecodedJwt, type KeySource } from '../jwt';

const JWKS_URL = '/.well-known/jwks.json';

function claimsTable(caption: string, rows: ClaimRow[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'claims' },
      h('caption', null, caption),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Value'), h('th', { scope: 'col' }, 'Meaning'))),
      h(
        'tbody',
        null,
        rows.map((r) => h('tr', null, h('th', { scope: 'row' }, h('code', null, r.name)), h('td', { class: 'value' }, r.value), h('td', null, r.meaning))),
      ),
    ),
  );
}

export function renderDebugger(root: HTMLElement): View {
  const token = h('textarea', {
    id: 'token',
    rows: 6,
    spellcheck: 'false',
    autocapitalize: 'none',
    autocomplete: 'off',
    'aria-describedby': 'token-hint',
  });
  const output = h('div', { class: 'debug-output', 'aria-live': 'off' });
  const error = h('p', { class: 'form-error', role: 'alert' });

  // Key source: this server's JWKS (default) or a pasted key.
  const useJwks = h('input', { type: 'radio', name: 'key-source', id: 'key-jwks', value: 'jwks', checked: true });
  const usePasted = h('input', { type: 'radio', name: 'key-source', id: 'key-pasted', value: 'pasted' });
  const keyText = h('textarea', { id: 'key', rows: 4, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'key-hint', disabled: true });
  const verdict = h('p', { class: 'verdict', role: 'status', 'data-testid': 'verdict' });
  const verifyButton = h('button', { type: 'button', class: 'secondary' }, 'Verify signature');

  let seq = 0;
  let current: DecodedJwt | null = null;

  const verify = async () => {
    if (!current) {
      verdict.textContent = '';
      return;
    }
    const mine = ++seq;
    const source: KeySource = usePasted.checked ? { kind: 'pasted', text: keyText.value } : { kind: 'jwks', url: JWKS_URL };
    verdict.className = 'verdict';
    verdict.textContent = 'Checking the signature…';
    const result = await verifySignature(current, source);
    if (mine !== seq) return; // a newer token or key replaced this one meanwhile
    verdict.className = `verdict ${result.ok ? 'ok' : 'bad'}`;
    verdict.textContent = result.text;
  };

  const decode = () => {
    const text = token.value.trim();
    error.textContent = '';
    if (text === '') {
      current = null;
      replace(output, h('p', { class: 'muted' }, 'Paste a token to see inside it.'));
      verdict.textContent = '';
      return;
    }
    try {
      current = decodeJwt(text);
    } catch (e) {
      current = null;
      replace(output);
      verdict.textContent = '';
      error.textContent = (e as Error).message;
      return;
    }
    const now = Date.now();
    const found = warnings(current, now);
    replace(
      output,
      h(
        'div',
        { class: 'split' },
        h('section', { 'aria-labelledby': 'dbg-header' }, h('h2', { id: 'dbg-header' }, 'Header'), h('pre', { class: 'code', 'data-testid': 'decoded-header' }, prettyJson(current.header))),
        h('section', { 'aria-labelledby': 'dbg-payload' }, h('h2', { id: 'dbg-payload' }, 'Payload'), h('pre', { class: 'code', 'data-testid': 'decoded-payload' }, prettyJson(current.payload))),
      ),
      h('p', { class: 'muted' }, `${current.bytes} bytes; signature ${current.signature.length} bytes.`),
      h(
        'section',
        { 'aria-labelledby': 'dbg-warnings' },
        h('h2', { id: 'dbg-warnings' }, 'Warnings'),
        found.length
          ? h('ul', { class: 'warnings', 'aria-labelledby': 'dbg-warnings' }, found.map((w) => h('li', null, w)))
          : h('p', { class: 'ok-text' }, 'No warnings: nothing that usually bites stood out.'),
      ),
      h('section', { 'aria-labelledby': 'dbg-claims' }, h('h2', { id: 'dbg-claims' }, 'Claims explained'), claimsTable('Payload claims', explainClaims(current.payload, now)), claimsTable('Header parameters', explainHeader(current.header))),
    );
    void verify();
  };

  token.addEventListener('input', decode);
  verifyButton.addEventListener('click', () => void verify());
  const onSource = () => {
    keyText.disabled = !usePasted.checked;
    void verify();
  };
  useJwks.addEventListener('change', onSource);
  usePasted.addEventListener('change', onSource);
  keyText.addEventListener('input', () => void verify());

  const mine = auth.accessToken;
  const useMine = h('button', { type: 'button', class: 'secondary small' }, 'Use my current access token');
  useMine.addEventListener('click', () => {
    const t = auth.accessToken;
    if (t) {
      token.value = t;
      decode();
    }
  });

  replace(
    root,
    h(
      'div',
      { class: 'debugger' },
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'dbg-title' },
        h('h1', { id: 'dbg-title', tabindex: -1 }, 'Token debugger'),
        h(
          'p',
          { class: 'lead' },
          'Paste any JWT to see what is inside. Everything happens in this page: the token is never sent anywhere. Only the public key set is fetched from this server.',
        ),
        h('div', { class: 'field' }, h('label', { for: 'token' }, 'Token'), token, h('p', { class: 'hint', id: 'token-hint' }, 'A compact JWT: three base64url parts separated by dots.')),
        mine ? h('div', { class: 'actions' }, useMine) : null,
        error,
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'sig-title' },
        h('h2', { id: 'sig-title' }, 'Signature'),
        h(
          'fieldset',
          { class: 'modes' },
          h('legend', null, 'Verify against'),
          h('div', { class: 'mode-option' }, useJwks, h('label', { for: 'key-jwks' }, 'This server’s JWKS')),
          h('div', { class: 'mode-option' }, usePasted, h('label', { for: 'key-pasted' }, 'A key I paste')),
        ),
        h(
          'div',
          { class: 'field' },
          h('label', { for: 'key' }, 'Key'),
          keyText,
          h('p', { class: 'hint', id: 'key-hint' }, 'A JWK or JWKS (JSON), a PEM public key (-----BEGIN PUBLIC KEY-----), or the shared secret for HS256.'),
        ),
        h('div', { class: 'actions' }, verifyButton),
        verdict,
      ),
      h('section', { class: 'card', 'aria-label': 'Decoded token' }, output),
    ),
  );

  const handed = takeHandoff();
  if (handed) token.value = handed;
  decode();
  return { title: 'Token debugger · Frontdesk' };
}
