// passkeys.js - the browser half of Tally's passkey ceremonies (docs/api.md, "Passkeys").
//
// The API speaks JSON with unpadded base64url for binary fields; navigator.credentials wants
// ArrayBuffers. tallyPasskeys.create(options) and tallyPasskeys.get(options) take the options
// the API returned and give back exactly the body the API expects next, so any client (this
// page, a test driving a browser) can post it wherever it likes. register() and login() do the
// whole round trip against this page's own origin.
'use strict';

(function () {
  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = '';
    for (let i = 0; i < bytes.length; i++) {
      text += String.fromCharCode(bytes[i]);
    }
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function fromB64url(text) {
    const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function descriptors(list) {
    return (list || []).map((d) => ({ type: d.type, id: fromB64url(d.id) }));
  }

  async function create(options, name) {
    const publicKey = Object.assign({}, options, {
      challenge: fromB64url(options.challenge),
      user: Object.assign({}, options.user, { id: fromB64url(options.user.id) }),
      excludeCredentials: descriptors(options.excludeCredentials),
    });
    const credential = await navigator.credentials.create({ publicKey });
    const body = {
      credential_id: toB64url(credential.rawId),
      client_data_json: toB64url(credential.response.clientDataJSON),
      attestation_object: toB64url(credential.response.attestationObject),
    };
    if (name) {
      body.name = name;
    }
    return body;
  }

  async function get(options) {
    const publicKey = Object.assign({}, options, {
      challenge: fromB64url(options.challenge),
      allowCredentials: descriptors(options.allowCredentials),
    });
    const credential = await navigator.credentials.get({ publicKey });
    const body = {
      credential_id: toB64url(credential.rawId),
      client_data_json: toB64url(credential.response.clientDataJSON),
      authenticator_data: toB64url(credential.response.authenticatorData),
      signature: toB64url(credential.response.signature),
    };
    if (credential.response.userHandle && credential.response.userHandle.byteLength > 0) {
      body.user_handle = toB64url(credential.response.userHandle);
    }
    return body;
  }

  async function call(method, path, body, token) {
    const headers = { 'Content-Type': 'application/json' };
    if (token) {
      headers.Authorization = 'Bearer ' + token;
    }
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  async function register(token, name) {
    const options = await call('POST', '/v1/me/passkeys/options', {}, token);
    if (options.status !== 200) {
      return options;
    }
    return call('POST', '/v1/me/passkeys', await create(options.body, name), token);
  }

  async function login(loginName) {
    const options = await call('POST', '/v1/sessions/passkey/options',
      loginName ? { login: loginName } : {});
    if (options.status !== 200) {
      return options;
    }
    return call('POST', '/v1/sessions/passkey', await get(options.body));
  }

  window.tallyPasskeys = { create, get, register, login };

  function show(result) {
    document.getElementById('out').textContent = JSON.stringify(result, null, 2);
  }

  document.addEventListener('DOMContentLoaded', () => {
    document.getElementById('register').addEventListener('click', () => {
      register(document.getElementById('token').value, document.getElementById('name').value)
        .then(show, (e) => show({ error: String(e) }));
    });
    document.getElementById('signin').addEventListener('click', () => {
      login(document.getElementById('login').value).then(show, (e) => show({ error: String(e) }));
    });
  });
})();
