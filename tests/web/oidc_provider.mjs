// A real OpenID Provider for the web front end's sign-in test (tests/web/test_oidc.py): panva's
// node-oidc-provider (OpenID Certified), installed by infra/oidc-provider/install.sh, configured as a
// university identity provider would be for careerloop:
//
// * one confidential client, the web front end: authorization code flow, PKCE (S256) required,
//   redirect URI <WEB_PUBLIC_URL>/sign-in/callback, post-logout redirect <WEB_PUBLIC_URL>/sign-in;
// * access tokens for the careerloop APIs as RS256-signed JWTs (RFC 9068, `typ: at+jwt`) through
//   Resource Indicators: audience CAREERLOOP_JWT_AUDIENCE, issuer this provider, keys at /jwks;
// * the role claim the APIs read (`roles`, a list of student/advisor/admin/analyst) added to those
//   access tokens from the account's directory entry, as a university IdP's claim mapper does;
// * RP-initiated logout at its end_session_endpoint; its built-in login and consent pages
//   (devInteractions: any password) stand in for the university's login page.
//
// Listens on 127.0.0.1 only. Environment: OIDC_PORT, WEB_PUBLIC_URL, OIDC_CLIENT_ID,
// OIDC_CLIENT_SECRET, CAREERLOOP_JWT_AUDIENCE, OIDC_PROVIDER_MODULES (the installer's node_modules).
// Prints "ready <issuer>" once it listens.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`oidc_provider.mjs: ${name} is not set`);
  return value;
};
const { default: Provider } = await import(
  pathToFileURL(join(env('OIDC_PROVIDER_MODULES'), 'oidc-provider', 'lib', 'index.js')).href);

const port = Number(env('OIDC_PORT'));
const issuer = `http://127.0.0.1:${port}`;
const web = env('WEB_PUBLIC_URL').replace(/\/$/, '');
const audience = env('CAREERLOOP_JWT_AUDIENCE');

// The university's directory as far as the test needs it: who is who, and in which careerloop role.
const DIRECTORY = {
  'oidc-student-1': { name: 'Olivia Student', email: 'olivia@university.example', roles: ['student'] },
  'oidc-analyst-1': { name: 'Anna Analyst', email: 'anna@university.example', roles: ['analyst'] },
};
const entry = (id) => DIRECTORY[id] ?? { name: id, email: `${id}@university.example`, roles: [] };

const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const page = (title, body) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
</head><body><main><h1>${title}</h1>${body}</main></body></html>`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: env('OIDC_CLIENT_ID'),
    client_secret: env('OIDC_CLIENT_SECRET'),
    redirect_uris: [`${web}/sign-in/callback`],
    post_logout_redirect_uris: [`${web}/sign-in`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [{ ...signingKey, use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'careerloop'],
  claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
  async findAccount(ctx, id) {
    const person = entry(id);
    return { accountId: id, async claims() { return { sub: id, name: person.name, email: person.email, email_verified: true }; } };
  },
  // The careerloop APIs' claims in their access token: the roles (what a Keycloak protocol mapper, an
  // Entra ID app role or a Shibboleth attribute rule gives), the name and e-mail shown to the user.
  async extraTokenClaims(ctx, token) {
    if (!token.accountId) return undefined;
    const person = entry(token.accountId);
    return { roles: person.roles, name: person.name, email: person.email, email_verified: true };
  },
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience, // the web front end asks for no resource: the APIs are the default
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'careerloop',
        audience,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out of the university', `${form}<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p>You are signed out of the university.</p>');
      },
    },
  },
});

createServer(provider.callback()).listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
