// Signs a body the way GitHub does, with GitHub's own @octokit/webhooks-methods.
// Usage: node sign-github.mjs SECRET < body; prints the X-Hub-Signature-256 value.
import { sign } from "@octokit/webhooks-methods";
import { readFileSync } from "node:fs";

const body = readFileSync(0, "utf8");
process.stdout.write(await sign(process.argv[2], body));
