// passkeys.test.mjs - a real Chromium (headless, DevTools virtual authenticator) registers a
// passkey with tallyd, logs out, logs in with it, and is refused where it must be. Run by
// tests/web/run_passkeys.sh, which starts the servers and passes:
//   PLAYWRIGHT  path of the installed playwright-core module
//   CHROMIUM    browser executable
//   BASE        http://localhost:PORT of server A (webauthn.origin = BASE, rp id localhost)
//   OTHER       http://localhost:PORT of server B (only serves web/: another origin)
//   TOKEN       a session token of user HANDLE on server A
//   HANDLE      that user's handle
// The page (web/passkeys.html + passkeys.js, served by tallyd) only runs navigator.credentials;
// this script makes every API call itself, so it can replay, tamper and post across origins.
// Prints one "FAIL: ..." line per failed check and closes with "N passed, M failed".
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT);
const { BASE, OTHER, TOKEN, HANDLE, CHROMIUM } = process.env;

let passed = 0;
let failed = 0;
function check(name, ok, got) {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.log(`FAIL: ${name}: ${typeof got === 'string' ? got : JSON.stringify(got)}`);
  }
}

async function api(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: response.status, body: json, type: response.headers.get('content-type') };
}

function isProblem(r, status, code) {
  return r.status === status && r.body && r.body.code === code &&
    (r.type || '').startsWith('application/problem+json');
}

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--host-resolver-rules=MAP localhost 127.0.0.1'],
  });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });

    const pageResp = await page.goto(`${BASE}/web/passkeys.html`);
    check('page served', pageResp.status() === 200, pageResp.status());
    const csp = pageResp.headers()['content-security-policy'] || '';
    check('page has a CSP', csp.includes("script-src 'self'"), csp);
    check('page is html', (pageResp.headers()['content-type'] || '').startsWith('text/html'),
      pageResp.headers()['content-type']);
    await page.waitForFunction(() => window.tallyPasskeys !== undefined);

    // ---- Registration ----
    let r = await api('POST', '/v1/me/passkeys/options', {}, TOKEN);
    check('register options 200', r.status === 200, r);
    const createOptions = r.body;
    check('options carry rp, user, challenge, ES256 and EdDSA',
      createOptions.rp.id === 'localhost' && createOptions.user.name === HANDLE &&
      typeof createOptions.challenge === 'string' && createOptions.challenge.length === 43 &&
      createOptions.pubKeyCredParams.map((p) => p.alg).join(',') === '-7,-8' &&
      createOptions.attestation === 'none' &&
      createOptions.authenticatorSelection.userVerification === 'required', createOptions);
    const attestation = await page.evaluate((o) => window.tallyPasskeys.create(o, 'Laptop'),
      createOptions);
    r = await api('POST', '/v1/me/passkeys', attestation, TOKEN);
    check('register 201', r.status === 201 && r.body.name === 'Laptop' &&
      /^passkey_[0-9a-z]{26}$/.test(r.body.id) && r.body.algorithm === 'ES256' &&
      r.body.last_used_at === null && r.body.credential_id === attestation.credential_id, r);
    const passkeyId = r.body.id;
    r = await api('POST', '/v1/me/passkeys', attestation, TOKEN);
    check('replayed registration refused', isProblem(r, 400, 'passkey_invalid'), r);

    r = await api('GET', '/v1/me/passkeys', undefined, TOKEN);
    check('list shows the passkey', r.status === 200 && r.body.data.length === 1 &&
      r.body.data[0].id === passkeyId && r.body.has_more === false, r);
    r = await api('GET', '/v1/me/passkeys');
    check('list needs a session', isProblem(r, 401, 'unauthorized'), r);

    // A second registration of the same authenticator is excluded by the browser; the options
    // name the registered credential.
    r = await api('POST', '/v1/me/passkeys/options', {}, TOKEN);
    check('exclude lists the passkey', r.status === 200 &&
      r.body.excludeCredentials.length === 1 &&
      r.body.excludeCredentials[0].id === attestation.credential_id, r);

    // ---- Log out, then log in with the passkey ----
    r = await api('DELETE', '/v1/sessions/current', undefined, TOKEN);
    check('logout 204', r.status === 204, r);
    r = await api('GET', '/v1/me', undefined, TOKEN);
    check('old token dead', r.status === 401, r);

    r = await api('POST', '/v1/sessions/passkey/options', { login: `@${HANDLE}` });
    check('login options 200', r.status === 200 && r.body.rpId === 'localhost' &&
      r.body.allowCredentials.length === 1 && r.body.userVerification === 'required', r);
    let assertion = await page.evaluate((o) => window.tallyPasskeys.get(o), r.body);
    r = await api('POST', '/v1/sessions/passkey', assertion);
    check('passkey login 201', r.status === 201 && typeof r.body.token === 'string' &&
      r.body.user.handle === HANDLE, r);
    const token2 = r.body && r.body.token;
    r = await api('GET', '/v1/me', undefined, token2);
    check('new session works', r.status === 200 && r.body.handle === HANDLE, r);
    r = await api('POST', '/v1/sessions/passkey', assertion);
    check('replayed assertion (reused challenge) refused',
      isProblem(r, 401, 'invalid_credentials'), r);

    // Discoverable credential: no login named, empty allowCredentials.
    r = await api('POST', '/v1/sessions/passkey/options', {});
    check('discoverable options', r.status === 200 && r.body.allowCredentials.length === 0, r);
    assertion = await page.evaluate((o) => window.tallyPasskeys.get(o), r.body);
    check('discoverable assertion carries the user handle',
      typeof assertion.user_handle === 'string', assertion);
    r = await api('POST', '/v1/sessions/passkey', assertion);
    check('discoverable login 201', r.status === 201 && r.body.user.handle === HANDLE, r);

    r = await api('GET', '/v1/me/passkeys', undefined, token2);
    check('last_used_at set', r.status === 200 && r.body.data[0].last_used_at !== null, r);

    // A user handle that is not the credential's user.
    r = await api('POST', '/v1/sessions/passkey/options', {});
    assertion = await page.evaluate((o) => window.tallyPasskeys.get(o), r.body);
    assertion.user_handle = 'AAAAAAAAAAAAAAAAAAAAAA';
    r = await api('POST', '/v1/sessions/passkey', assertion);
    check('foreign user handle refused', isProblem(r, 401, 'invalid_credentials'), r);

    // A tampered signature.
    r = await api('POST', '/v1/sessions/passkey/options', {});
    assertion = await page.evaluate((o) => window.tallyPasskeys.get(o), r.body);
    const sig = Buffer.from(assertion.signature, 'base64url');
    sig[sig.length - 1] ^= 1;
    assertion.signature = sig.toString('base64url');
    r = await api('POST', '/v1/sessions/passkey', assertion);
    check('tampered signature refused', isProblem(r, 401, 'invalid_credentials') &&
      /signature/.test(r.body.detail), r);

    // ---- Wrong origin: the same authenticator, a page of another origin (same RP id) ----
    r = await api('POST', '/v1/sessions/passkey/options', { login: HANDLE });
    const loginOptions = r.body;
    await page.goto(`${OTHER}/web/passkeys.html`);
    await page.waitForFunction(() => window.tallyPasskeys !== undefined);
    assertion = await page.evaluate((o) => window.tallyPasskeys.get(o), loginOptions);
    r = await api('POST', '/v1/sessions/passkey', assertion);
    check('assertion from another origin refused', isProblem(r, 401, 'invalid_credentials') &&
      /origin/.test(r.body.detail), r);
    r = await api('POST', '/v1/me/passkeys/options', {}, token2);
    // Another user id, so the authenticator keeps the registered (resident) credential.
    const otherUser = Object.assign({}, r.body.user, { id: 'b3RoZXItdXNlci1pZA' });
    const otherAttestation = await page.evaluate((o) => window.tallyPasskeys.create(o),
      Object.assign({}, r.body, { user: otherUser, excludeCredentials: [] }));
    r = await api('POST', '/v1/me/passkeys', otherAttestation, token2);
    check('registration from another origin refused', isProblem(r, 400, 'passkey_invalid') &&
      /origin/.test(r.body.detail), r);
    await page.goto(`${BASE}/web/passkeys.html`);
    await page.waitForFunction(() => window.tallyPasskeys !== undefined);

    // ---- The whole round trip from the page itself (same-origin fetch under the CSP) ----
    r = await page.evaluate((h) => window.tallyPasskeys.login(h), HANDLE);
    check('page login round trip', r.status === 201 && r.body.user.handle === HANDLE, r);

    // ---- Revoke, then the credential no longer logs in ----
    r = await api('DELETE', `/v1/me/passkeys/${passkeyId}`, undefined, token2);
    check('revoke 204', r.status === 204, r);
    r = await api('DELETE', `/v1/me/passkeys/${passkeyId}`, undefined, token2);
    check('revoke twice 404', isProblem(r, 404, 'not_found'), r);
    r = await api('GET', '/v1/me/passkeys', undefined, token2);
    check('list empty after revoke', r.status === 200 && r.body.data.length === 0, r);
    r = await api('POST', '/v1/sessions/passkey/options', { login: HANDLE });
    check('revoked passkey no longer offered', r.status === 200 &&
      r.body.allowCredentials.length === 0, r);
    // The authenticator still holds it: ask for exactly that credential.
    const revokedOptions = Object.assign({}, r.body, {
      allowCredentials: [{ type: 'public-key', id: attestation.credential_id }],
    });
    assertion = await page.evaluate((o) => window.tallyPasskeys.get(o), revokedOptions);
    r = await api('POST', '/v1/sessions/passkey', assertion);
    check('revoked passkey refused', isProblem(r, 401, 'invalid_credentials') &&
      /not registered/.test(r.body.detail), r);

    // ---- The audit log tells the story ----
    r = await api('GET', '/v1/me/audit?limit=100', undefined, token2);
    const actions = r.status === 200 ? r.body.data.map((e) => e.action) : [];
    for (const action of ['passkey.registered', 'passkey.revoked', 'login.passkey_failed',
      'login.succeeded']) {
      check(`audit has ${action}`, actions.includes(action), actions);
    }
    const registered = r.status === 200 && r.body.data.find((e) => e.action === 'passkey.registered');
    check('audit subject is the passkey id', registered && registered.subject === passkeyId,
      registered);

    // ---- Static files: only plain names of web.dir ----
    for (const bad of ['..%2Fsecret.key', '.hidden.js', 'passkeys', 'a.b.js', 'x.exe']) {
      r = await api('GET', `/web/${bad}`);
      check(`static ${bad} refused`, r.status === 404, r);
    }
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`FAIL: exception: ${e && e.stack ? e.stack : e}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
