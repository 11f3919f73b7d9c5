// Verify a JWT with npm `jose` (tests/node), the way a Layer or Mobile Services backend would.
// Input on stdin (JSON): {token, kind: "layer" | "wams", publicKeyPem?, masterKey?, issuer}.
// Prints {"header": ..., "payload": ...} and exits 0, or prints the error and exits 1.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(process.env.NODE_PACKAGES_DIR + "/");
const jose = await import(pathToFileURL(require.resolve("jose")).href);

let input = "";
for await (const chunk of process.stdin) input += chunk;
const request = JSON.parse(input);

try {
  let key;
  let options;
  if (request.kind === "layer") {
    key = await jose.importSPKI(request.publicKeyPem, "RS256");
    options = { algorithms: ["RS256"], issuer: request.issuer, typ: "JWS" };
  } else {
    // Mobile Services' signing-key derivation, done independently here.
    key = createHash("sha256").update(request.masterKey + "JWTSig", "utf8").digest();
    options = { algorithms: ["HS256"], issuer: request.issuer, audience: "Custom" };
  }
  const { payload, protectedHeader } = await jose.jwtVerify(request.token, key, options);
  process.stdout.write(JSON.stringify({ header: protectedHeader, payload }));
} catch (error) {
  process.stdout.write(JSON.stringify({ error: error.code || error.name }));
  process.exit(1);
}
