// Peer OP for bench/compare.py: panva/oidc-provider v9, single Node process, loopback only.
// Start:  PORT=3000 node server.js      (pin with: taskset -c 1 node server.js)
// Env:    PORT (3000), SIGN_ALG (RS256|ES256: id_token + JWT access tokens),
//         CC_FORMAT (jwt|opaque), ROTATE_RT (1 = rotate refresh tokens on every use, 0 = default policy)
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';
// Upstream in-memory adapter logic, but with an unbounded TTL map instead of its 1000-entry LRU,
// so tokens pre-issued for the benchmark are not evicted under load.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT || 3000);
const ISSUER = `http://${HOST}:${PORT}`;
const SIGN_ALG = process.env.SIGN_ALG || 'RS256';
const CC_FORMAT = process.env.CC_FORMAT || 'jwt';
const ROTATE_RT = (process.env.ROTATE_RT ?? '1') === '1';
const API = 'urn:bench:api';

export const CLIENT = {
  client_id: 'bench-client',
  client_secret: 'bench-secret-0123456789abcdef0123456789abcdef',
  redirect_uris: ['http://127.0.0.1:9999/cb'],
};
const USER = {
  id: 'user-1', email: 'test.user@example.org', password: 'test-password',
  given_name: 'Test', family_name: 'User', locale: 'de-DE',
};

// ---- signing keys: generated once into keys.json (git-ignored) ----
const here = path.dirname(fileURLToPath(import.meta.url));
const keyFile = path.join(process.env.KEYS_DIR || here, `keys-${process.env.RSA_BITS || 3072}.json`);
function genKeys() {
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: Number(process.env.RSA_BITS || 3072) }).privateKey.export({ format: 'jwk' });
  const keys = [{ ...rsa, kid: 'rs256-1', alg: 'RS256', use: 'sig' }, { ...ec, kid: 'es256-1', alg: 'ES256', use: 'sig' }];
  fs.writeFileSync(keyFile, JSON.stringify({ keys }, null, 1), { mode: 0o600 });
  return { keys };
}
const jwks = fs.existsSync(keyFile) ? JSON.parse(fs.readFileSync(keyFile, 'utf8')) : genKeys();

// ---- unbounded TTL store with the get/set/delete interface the upstream MemoryAdapter expects ----
class TtlStore {
  #m = new Map();
  get(k) {
    const e = this.#m.get(k);
    if (!e) return undefined;
    if (e.exp && e.exp <= Date.now()) { this.#m.delete(k); return undefined; }
    return e.value;
  }
  set(k, value, opts) { this.#m.set(k, { value, exp: opts?.maxAge ? Date.now() + opts.maxAge : 0 }); }
  delete(k) { this.#m.delete(k); }
  sweep() { const now = Date.now(); for (const [k, e] of this.#m) if (e.exp && e.exp <= now) this.#m.delete(k); }
  get size() { return this.#m.size; }
}
const store = new TtlStore();
setInterval(() => store.sweep(), 30_000).unref();

const configuration = {
  adapter: (model) => new MemoryAdapter(model, store, 15),
  clients: [{
    ...CLIENT,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    scope: 'openid email profile offline_access api:read',
    id_token_signed_response_alg: SIGN_ALG,
  }],
  jwks,
  scopes: ['openid', 'offline_access', 'email', 'profile', 'api:read'],
  pkce: { required: () => true }, // v9 supports S256 only
  cookies: { keys: ['bench-cookie-key-not-secret'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'locale'],
  },
  async findAccount(ctx, sub) {
    if (sub !== USER.id) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub, email: USER.email, email_verified: true,
          name: `${USER.given_name} ${USER.family_name}`, given_name: USER.given_name,
          family_name: USER.family_name, locale: USER.locale,
        };
      },
    };
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // client_credentials gets the API resource by default (=> JWT access token);
      // authorization_code tokens stay audience-less, i.e. usable at userinfo.
      defaultResource: async (ctx, client, oneOf) => oneOf
        ?? (ctx.oidc.params?.grant_type === 'client_credentials' ? API : undefined),
      getResourceServerInfo: async () => ({
        scope: 'api:read', audience: API, accessTokenTTL: 600,
        accessTokenFormat: CC_FORMAT, jwt: { sign: { alg: SIGN_ALG } },
      }),
      useGrantedResource: async () => false,
    },
  },
  rotateRefreshToken: ROTATE_RT ? () => true : undefined,
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    AccessToken: 3600, ClientCredentials: 600, IdToken: 3600, RefreshToken: 14 * 86400,
    Interaction: 600, Session: 86400, Grant: 86400,
  },
};
if (!ROTATE_RT) delete configuration.rotateRefreshToken;

const provider = new Provider(ISSUER, configuration);

// ---- minimal interaction UI: login (login=email, password) then consent, both plain form POSTs ----
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
async function readForm(req) {
  let data = '';
  for await (const chunk of req) { data += chunk; if (data.length > 1e5) throw new Error('body too large'); }
  return new URLSearchParams(data);
}
const safeEq = (a, b) => {
  const x = Buffer.from(String(a)); const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
};

provider.use(async (ctx, next) => {
  const m = /^\/interaction\/([\w-]+)(?:\/(login|confirm))?$/.exec(ctx.path);
  if (!m) return next();
  const [, uid, action] = m;
  ctx.set('cache-control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
  const { prompt, params, session } = details;

  if (ctx.method === 'GET' && !action) {
    ctx.type = 'html';
    if (prompt.name === 'login') {
      ctx.body = page('Sign-in', `<form method="post" action="/interaction/${esc(uid)}/login">
<input name="login" type="email" required><input name="password" type="password" required>
<button type="submit">Sign in</button></form>`);
    } else {
      ctx.body = page('Consent', `<p>${esc(params.client_id)} requests: ${esc(params.scope)}</p>
<form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit">Allow</button></form>`);
    }
    return undefined;
  }
  if (ctx.method !== 'POST') ctx.throw(405);
  ctx.respond = false; // interactionFinished writes the 303 itself

  if (action === 'login') {
    const form = await readForm(ctx.req);
    const ok = safeEq(form.get('login') || '', USER.email) && safeEq(form.get('password') || '', USER.password);
    if (!ok) {
      ctx.respond = true; ctx.status = 401; ctx.type = 'html';
      ctx.body = page('Sign-in', '<p>invalid credentials</p>');
      return undefined;
    }
    return provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: USER.id } }, { mergeWithLastSubmission: false });
  }

  // action === 'confirm'  (consent)
  if (prompt.name !== 'consent') ctx.throw(400, 'no consent pending');
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const d = prompt.details;
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  if (d.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
});

const server = provider.listen(PORT, HOST, () => {
  console.log(`oidc-provider ${ISSUER} pid=${process.pid} node=${process.version} sign=${SIGN_ALG} cc=${CC_FORMAT} rotateRT=${ROTATE_RT}`);
});
server.keepAliveTimeout = 65_000;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { server.close(); server.closeAllConnections?.(); process.exit(0); });
}
