// A real OpenID Connect provider (panva's certified `oidc-provider`) for
// Tandem's single sign-on tests, on 127.0.0.1 at a port the OS picks.
//
//   node tests/oidc/provider.mjs CONFIG.json
//
// Prints one JSON line, {"issuer": "http://127.0.0.1:PORT"}, once it listens.
// Exits when its standard input closes, so a test process that dies takes
// the provider with it.
//
// CONFIG.json:
//   clients   oidc-provider client metadata, passed through unchanged
//   accounts  { accountId: { email, email_verified, name } }; the file is
//             read again on every lookup, so a test can change a person's
//             claims between sign-ins
//   id_token_ttl  seconds an ID token is valid [default 3600]
//   port      listen on this port instead of one the OS picks (to restart
//             the provider in place)
//   kid       the key id of the freshly generated signing key
//             [default "test-key-1"]; a restart with another kid is a key
//             rotation as Tandem sees it
//   tamper    { client_id: "none" | "aud" | "iss" }: the one thing here that
//             is not the provider's own behaviour. After the real token
//             endpoint answered, the ID token sent to that client is
//             rewritten: unsigned (alg "none"), or re-signed with the
//             provider's own key but another audience or issuer. Only for
//             refusals a correct provider can never be made to produce.
//
// Logging in: the provider sends the browser to /interaction/UID. Instead of
// a form, GET /interaction/UID/login?account=ID finishes the login as that
// account; consent is granted for the scopes asked for.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const configPath = process.argv[2];
const readConfig = () => JSON.parse(fs.readFileSync(configPath, 'utf8'));
const config = readConfig();

// The key is generated as PEM and read back into a key object of its own.
// Exporting the generated KeyObject itself as a JWK can deadlock Node 20:
// a garbage collection during the export finalises the key-generation job,
// whose destructor waits for the lock the export holds (seen as a provider
// that never printed its issuer, stuck in futex_wait under ExportJWK).
const { privateKey: pem } = crypto.generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const privateKey = crypto.createPrivateKey(pem);
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: config.kid ?? 'test-key-1', use: 'sig', alg: 'RS256' };

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function tamper(idToken, mode, issuer) {
  const [header, payload] = idToken.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url')));
  if (mode === 'none') {
    return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
  }
  if (mode === 'aud') payload.aud = 'some-other-client';
  if (mode === 'iss') payload.iss = `${issuer}/not-the-issuer`;
  const input = `${b64url(header)}.${b64url(payload)}`;
  const signature = crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url');
  return `${input}.${signature}`;
}

const server = http.createServer();
server.listen(config.port ?? 0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks: { keys: [jwk] },
    cookies: { keys: ['tandem-test-cookie-key'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // Put the asked-for claims into the ID token itself, as most providers do.
    conformIdTokenClaims: false,
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'HS256'] },
    features: { devInteractions: { enabled: false } },
    ttl: {
      IdToken: config.id_token_ttl ?? 3600,
      AccessToken: 3600,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    async findAccount(_ctx, id) {
      const claims = readConfig().accounts?.[id];
      if (!claims) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
    },
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      await grant.save();
      return grant;
    },
  });
  provider.proxy = false;

  provider.use(async (ctx, next) => {
    const login = ctx.path.match(/^\/interaction\/([^/]+)\/login$/);
    if (login && ctx.method === 'GET') {
      const account = ctx.query.account;
      if (!readConfig().accounts?.[account]) {
        ctx.status = 400;
        ctx.body = 'unknown account';
        return;
      }
      ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, { login: { accountId: account } }, { mergeWithLastSubmission: false }));
      return;
    }
    if (/^\/interaction\/[^/]+$/.test(ctx.path)) {
      ctx.type = 'text/plain';
      ctx.body = 'Sign in required.';
      return;
    }
    await next();
    if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
      const clientId = ctx.oidc?.client?.clientId;
      const mode = clientId && readConfig().tamper?.[clientId];
      if (mode) ctx.body = { ...ctx.body, id_token: tamper(ctx.body.id_token, mode, issuer) };
    }
  });

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.stdin.on('data', () => {});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
