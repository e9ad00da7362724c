// Verifies a webhook `hookwire send` delivered as GitHub, with GitHub's own
// @octokit/webhooks-methods, for tests/it/send.rs.
// Usage: node verify-github.mjs SECRET < request.json
// request.json: {"method", "target", "headers": [[name, value], ...], "body_base64"}.
// Exit 0 when X-Hub-Signature-256 verifies (and the legacy X-Hub-Signature,
// HMAC-SHA1 by GitHub's documented computation, matches too); 1 when a
// signature is rejected; 2 when a signature header is missing or repeated.
import { verify } from "@octokit/webhooks-methods";
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";

const secret = process.argv[2];
const request = JSON.parse(readFileSync(0, "utf8"));
const body = Buffer.from(request.body_base64, "base64");

function header(name) {
  const values = request.headers
    .filter(([n]) => n.toLowerCase() === name)
    .map(([, v]) => v);
  if (values.length !== 1) {
    process.stderr.write(`github: expected exactly one ${name} header, got ${JSON.stringify(values)}\n`);
    process.exit(2);
  }
  return values[0];
}

const sha256 = header("x-hub-signature-256");
const sha1 = header("x-hub-signature");

if (!(await verify(secret, body.toString("utf8"), sha256))) {
  process.stderr.write(`github: @octokit/webhooks-methods verify() is false for ${sha256}\n`);
  process.exit(1);
}
const expected = Buffer.from(`sha1=${createHmac("sha1", secret).update(body).digest("hex")}`);
const given = Buffer.from(sha1);
if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
  process.stderr.write(`github: x-hub-signature ${sha1} != ${expected}\n`);
  process.exit(1);
}
