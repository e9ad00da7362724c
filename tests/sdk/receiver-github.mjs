// A correct GitHub webhook receiver built on @octokit/webhooks-methods, for
// tests/it/check.rs: `hookwire check --as github` must grade it PASS.
// Usage: node receiver-github.mjs SECRET
// Listens on 127.0.0.1 (a free port), prints "listening PORT"; answers 401
// when X-Hub-Signature-256 is missing or does not verify, 400 when the body
// is not JSON, else 200.
import { verify } from "@octokit/webhooks-methods";
import { createServer } from "node:http";

const secret = process.argv[2];

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const signature = req.headers["x-hub-signature-256"];
    let ok = false;
    try {
      ok = typeof signature === "string" && (await verify(secret, body, signature));
    } catch {
      ok = false;
    }
    if (!ok) {
      res.writeHead(401).end();
      return;
    }
    try {
      JSON.parse(body);
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200).end();
  });
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
