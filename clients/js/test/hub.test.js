// The client against a real `ssevents serve` (built from this repository
// with go build, or $SSEVENTS_BIN): bearer token, token refresh when the hub
// ends a stream with token_expired, two 401s in a row stop, resync with its
// reason, the served /ssevents.js is this module.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { subscribe } from "../ssevents.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const secret = "node-test-secret-".padEnd(40, "x");
let hub;
let base;
let dir;

// startHub builds the command (unless $SSEVENTS_BIN names one), starts
// `ssevents serve` on a free loopback port and reads its URL from the
// "hub ready" line.
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "ssevents-js-"));
  let bin = process.env.SSEVENTS_BIN;
  if (!bin) {
    bin = join(dir, "ssevents");
    execFileSync("go", ["build", "-o", bin, "./cmd/ssevents"], { cwd: root, stdio: "inherit" });
  }
  hub = spawn(bin, ["serve", "--addr", "127.0.0.1:0"], {
    env: { ...process.env, SSE_JWT_SECRET: secret, SSE_RETRY_MS: "100", SSE_LOG_LEVEL: "info" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  base = await new Promise((resolve, reject) => {
    let log = "";
    hub.stderr.on("data", (b) => {
      log += b;
      const m = /msg="hub ready" url=(\S+)/.exec(log);
      if (m) resolve(m[1]);
    });
    hub.on("exit", (code) => reject(new Error("ssevents serve exited " + code + ": " + log)));
    setTimeout(() => reject(new Error("ssevents serve not ready in 10 s: " + log)), 10000);
  });
});

after(() => {
  hub?.kill();
  rmSync(dir, { recursive: true, force: true });
});

// token mints an HS256 JWT for the hub's secret.
function token(claims) {
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const signed = enc({ alg: "HS256", typ: "JWT" }) + "." + enc(claims);
  return signed + "." + createHmac("sha256", secret).update(signed).digest("base64url");
}
const now = () => Math.floor(Date.now() / 1000);
const grant = (topics, ttl) => token({ sub: "u1", exp: now() + ttl, sse: { subscribe: topics, publish: topics } });

async function publish(topic, event, data) {
  const resp = await fetch(base + "/publish", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + grant([topic], 60) },
    body: JSON.stringify({ topic, event, data }),
  });
  assert.equal(resp.status, 200, await resp.clone().text());
  return (await resp.json()).id;
}

async function until(pred, ms = 5000) {
  for (const end = Date.now() + ms; !pred();) {
    if (Date.now() > end) throw new Error("timed out waiting for " + pred);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function record(sub) {
  const seen = { events: [], states: [] };
  sub.on("*", (e) => seen.events.push(e));
  sub.on("state", (s) => seen.states.push(s));
  return seen;
}

test("bearer token from getToken: events arrive with topic and parsed data", async (t) => {
  const sub = subscribe({ url: base + "/events", topics: ["orders"], getToken: async () => grant(["orders"], 60) });
  t.after(() => sub.close());
  const seen = record(sub);
  await until(() => seen.states.some((s) => s.state === "open"));
  const id = await publish("orders", "order_placed", { total: 12 });
  await until(() => seen.events.length === 1);
  assert.deepEqual(seen.events[0], { id, event: "order_placed", data: { total: 12 }, topic: "orders" });
});

test("token_expired: the client gets a fresh token and resumes, nothing lost or twice", async (t) => {
  let calls = 0;
  const sub = subscribe({
    url: base + "/events", topics: ["exp"],
    getToken: () => grant(["exp"], ++calls === 1 ? 2 : 60), // the first expires in about 2 s
  });
  t.after(() => sub.close());
  const seen = record(sub);
  await until(() => seen.states.some((s) => s.state === "open"));
  const before = await publish("exp", "n", 1);
  await until(() => seen.events.some((e) => e.event === "token_expired"), 5000);
  const later = await publish("exp", "n", 2);
  await until(() => seen.events.some((e) => e.id === later));
  assert.equal(calls, 2);
  const ids = seen.events.filter((e) => e.event === "n").map((e) => e.id);
  assert.deepEqual(ids, [before, later]);
  assert.equal(seen.states.filter((s) => s.state === "open").length, 2);
});

test("a token the hub refuses: getToken twice, then closed with the 401, no loop", async () => {
  let calls = 0;
  const sub = subscribe({ url: base + "/events", topics: ["x"], getToken: () => (calls++, "not-a-jwt") });
  const seen = record(sub);
  await until(() => seen.states.some((s) => s.state === "closed"));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(calls, 2);
  const closed = seen.states.at(-1);
  assert.equal(closed.status, 401);
  assert.match(closed.error.message, /^HTTP 401 Unauthorized: /);
  sub.close();
});

test("since an id the hub does not know: resync with its reason reaches on('resync')", async (t) => {
  const sub = subscribe({ url: base + "/events", topics: ["rs"], since: "bogus", getToken: () => grant(["rs"], 60) });
  t.after(() => sub.close());
  const resyncs = [];
  sub.on("resync", (e) => resyncs.push(e));
  await until(() => resyncs.length === 1);
  assert.equal(resyncs[0].data.reason, "dataset_changed");
  assert.equal(resyncs[0].topic, "rs");
});

test("GET /ssevents.js serves this very module", async () => {
  const resp = await fetch(base + "/ssevents.js");
  assert.equal(resp.headers.get("Content-Type"), "text/javascript; charset=utf-8");
  assert.equal(await resp.text(), readFileSync(join(here, "..", "ssevents.js"), "utf8"));
});
