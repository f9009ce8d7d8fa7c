// A real OpenID provider for the auth tests: `oidc-provider` (certified OpenID Provider library)
// issuing client-credentials access tokens as RS256 JWTs (RFC 9068) for resource indicators
// (RFC 8707). Run with Node 22:
//
//   node provider.mjs <config.json>
//
// config.json: {"port": 0, "keysFile": "...", "ttl": 300, "clients": [{client_id, client_secret,
// token_endpoint_auth_method, scope}], "scopes": ["tools:call", ...], "host": "127.0.0.1"}
// `host` (default 127.0.0.1) is the address it listens on and the issuer's host: the real-node
// suite (tests/node) runs it on the node address, where gateway pods reach its JWKS.
// `keysFile` holds private JWKs (one RSA key is generated there when the file is missing); the
// first key signs. Extra token parameters `tenant` and `audience` become claims of the token, so a
// backend can see what the client sent. Prints `listening <issuer>` once it serves.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

const modules = process.env.TOOLYARD_OIDC_MODULES;
if (!modules) {
  console.error('set TOOLYARD_OIDC_MODULES to the node_modules holding oidc-provider (tests/gateway/setup.d/oidc.sh)');
  process.exit(2);
}
const require = createRequire(`${modules}/`);
const { default: Provider } = await import(require.resolve('oidc-provider'));

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
if (!existsSync(config.keysFile)) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
  writeFileSync(config.keysFile, JSON.stringify({ keys: [jwk] }));
}
const jwks = JSON.parse(readFileSync(config.keysFile, 'utf8'));
const host = config.host ?? '127.0.0.1';
const issuer = `http://${host}:${config.port}`;
const scopes = config.scopes ?? ['tools:call', 'tools:read', 'other'];

const provider = new Provider(issuer, {
  clients: config.clients.map((c) => ({
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    ...c,
  })),
  jwks,
  scopes,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.defaultResource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => ({
        scope: scopes.join(' '),
        audience: resource,
        accessTokenTTL: config.ttl ?? 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  extraTokenClaims: (ctx) => {
    const claims = {};
    // The token request's form body (oidc-provider keeps it on ctx.oidc.body).
    const params = ctx?.oidc?.body ?? {};
    if (params.tenant) claims.tenant = params.tenant;
    if (params.audience) claims.requested_audience = params.audience;
    if (config.claims) Object.assign(claims, config.claims);
    return claims;
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
provider.listen(config.port, host, () => {
  console.log(`listening ${issuer}`);
});
