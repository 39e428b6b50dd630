// The client's connection logic against a scripted fetch: headers, resume,
// token refresh on 401 (twice in a row: stop), Retry-After, retry:, the
// heartbeat watchdog, full-jitter backoff, and what handlers receive.
import { test } from "node:test";
import assert from "node:assert/strict";
import { subscribe, backoff } from "../ssevents.js";

// script returns a fetch that answers each call with the next of replies
// (a function of the request, returning a Response), and the requests.
function script(...replies) {
  const calls = [];
  const fetch = async (url, init) => {
    const req = { url: new URL(url), headers: init.headers, signal: init.signal };
    calls.push(req);
    const reply = replies[Math.min(calls.length, replies.length) - 1];
    return reply(req);
  };
  return { fetch, calls };
}

// stream answers 200 with an event stream of text that stays open (until
// aborted) unless end is true.
const stream = (text, end = false) => (req) => new Response(new ReadableStream({
  start(c) {
    c.enqueue(new TextEncoder().encode(text));
    if (end) c.close();
    else req.signal.addEventListener("abort", () => c.error(new Error("aborted")));
  },
}), { headers: { "Content-Type": "text/event-stream; charset=utf-8" } });

const status = (code, headers = {}) => () => new Response(JSON.stringify({ error: "no " + code }), { status: code, headers });

// until waits for pred, failing after ms.
async function until(pred, ms = 2000) {
  for (const end = Date.now() + ms; !pred();) {
    if (Date.now() > end) throw new Error("timed out waiting for " + pred);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function record(sub) {
  const seen = { events: [], states: [] };
  sub.on("*", (e) => seen.events.push(e));
  sub.on("state", (s) => seen.states.push(s));
  return seen;
}

test("backoff is full jitter: uniform below min(cap, base * 2^attempt)", () => {
  for (const [attempt, bound] of [[0, 100], [3, 800], [10, 5000]]) {
    let sum = 0;
    for (let i = 0; i < 2000; i++) {
      const d = backoff(attempt, 100, 5000);
      assert.ok(d >= 0 && d < bound, `attempt ${attempt}: ${d} outside [0, ${bound})`);
      sum += d;
    }
    const mean = sum / 2000;
    assert.ok(mean > bound * 0.4 && mean < bound * 0.6, `attempt ${attempt}: mean ${mean}, want about ${bound / 2}`);
  }
});

test("bearer header, ?lastEventId= first, Last-Event-ID after, events as handlers get them", async (t) => {
  const { fetch, calls } = script(
    stream('retry: 10\n\nid: 5-0\nevent: hello\ndata: {"n":1}\n\nid: 6-0\nevent: text\ndata: not json\n\n', true),
    stream("id: 7-0\nevent: hello\ntopic: b\ndata: 2\n\n"));
  const sub = subscribe({ url: "http://hub.test/events", topics: ["a", "b", "a"], since: "4-0", getToken: () => "tok", fetch });
  t.after(() => sub.close());
  const named = [];
  sub.on("hello", (e) => named.push(e));
  const seen = record(sub);
  await until(() => seen.events.length === 3);
  assert.equal(calls[0].url.search, "?topic=a%2Cb&lastEventId=4-0");
  assert.equal(calls[0].headers.Authorization, "Bearer tok");
  assert.equal(calls[0].headers["Last-Event-ID"], undefined);
  assert.equal(calls[1].url.search, "?topic=a%2Cb");
  assert.equal(calls[1].headers["Last-Event-ID"], "6-0");
  assert.deepEqual(seen.events, [
    { id: "5-0", event: "hello", data: { n: 1 }, topic: undefined },
    { id: "6-0", event: "text", data: "not json", topic: undefined },
    { id: "7-0", event: "hello", data: 2, topic: "b" },
  ]);
  assert.deepEqual(named.map((e) => e.id), ["5-0", "7-0"]);
  assert.deepEqual(seen.states.map((s) => s.state), ["connecting", "open", "reconnecting", "connecting", "open"]);
  assert.ok(seen.states[2].delay < 10, "retry: 10 bounds the first delay, got " + seen.states[2].delay);
});

test("a single-topic stream names the topic; otherwise the data's topic", async (t) => {
  const { fetch } = script(stream('id: 1\nevent: x\ndata: {"topic":"other"}\n\n'));
  const one = subscribe({ url: "http://hub.test/events", topics: ["only"], fetch });
  const seen1 = record(one);
  const { fetch: f2 } = script(stream('id: 1\nevent: x\ndata: {"topic":"b"}\n\n'));
  const two = subscribe({ url: "http://hub.test/events", topics: ["a", "b"], fetch: f2 });
  const seen2 = record(two);
  t.after(() => { one.close(); two.close(); });
  await until(() => seen1.events.length && seen2.events.length);
  assert.equal(seen1.events[0].topic, "only");
  assert.equal(seen2.events[0].topic, "b");
});

test("401: getToken again, once; a second 401 in a row stops with the error", async () => {
  let tokens = 0;
  const { fetch, calls } = script(status(401));
  const sub = subscribe({ url: "http://hub.test/events", topics: ["a"], getToken: async () => "t" + ++tokens, fetch });
  const seen = record(sub);
  await until(() => seen.states.some((s) => s.state === "closed"));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(calls.length, 2);
  assert.equal(tokens, 2);
  assert.deepEqual(calls.map((c) => c.headers.Authorization), ["Bearer t1", "Bearer t2"]);
  const closed = seen.states.at(-1);
  assert.equal(closed.status, 401);
  assert.match(closed.error.message, /^HTTP 401\b.*: no 401$/);
  sub.close();
});

test("401 then a stream: the refreshed token works, and the count starts over", async (t) => {
  let tokens = 0;
  const { fetch, calls } = script(status(401), stream("data: 1\n\n", true), status(401), stream("data: 2\n\n"));
  const sub = subscribe({ url: "http://hub.test/events", topics: ["a"], getToken: () => "t" + ++tokens, retry: 1, fetch });
  t.after(() => sub.close());
  const seen = record(sub);
  await until(() => seen.events.length === 2);
  assert.equal(calls.length, 4);
  assert.equal(tokens, 3); // first, after each 401; not after the stream that ended
});

test("token_expired: getToken again, reconnect at once with the fresh token", async (t) => {
  let tokens = 0;
  const { fetch, calls } = script(stream('id: 1\nevent: token_expired\ndata: {"exp":1}\n\n', true), stream("id: 2\ndata: ok\n\n"));
  const sub = subscribe({ url: "http://hub.test/events", topics: ["a"], getToken: () => "t" + ++tokens, retry: 60000, fetch });
  t.after(() => sub.close());
  const seen = record(sub);
  await until(() => seen.events.length === 2, 1000);
  assert.deepEqual(calls.map((c) => c.headers.Authorization), ["Bearer t1", "Bearer t2"]);
  assert.equal(seen.events[0].event, "token_expired");
  assert.equal(seen.states.find((s) => s.state === "reconnecting").delay, 0);
});

test("Retry-After on 429 and 503 is a floor for the delay; 403 stops", async () => {
  for (const code of [429, 503]) {
    const { fetch } = script(status(code, { "Retry-After": "2" }));
    const sub = subscribe({ url: "http://hub.test/events", topics: ["a"], retry: 1, fetch });
    const seen = record(sub);
    await until(() => seen.states.some((s) => s.state === "reconnecting"));
    sub.close();
    const r = seen.states.find((s) => s.state === "reconnecting");
    assert.ok(r.delay >= 2000 && r.delay < 2001, `${code}: delay ${r.delay}`);
    assert.match(r.reason, new RegExp("HTTP " + code));
  }
  const { fetch, calls } = script(status(403));
  const sub = subscribe({ url: "http://hub.test/events", topics: ["a"], retry: 1, fetch });
  const seen = record(sub);
  await until(() => seen.states.some((s) => s.state === "closed"));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls.length, 1);
  assert.equal(seen.states.at(-1).status, 403);
});

test("no byte for twice the heartbeat: reconnect, resuming", async (t) => {
  const { fetch, calls } = script(stream("id: 3\ndata: x\n\n"));
  const sub = subscribe({ url: "http://hub.test/events", topics: ["a"], heartbeat: 0.05, retry: 1, fetch });
  t.after(() => sub.close());
  const seen = record(sub);
  await until(() => calls.length >= 2, 1000);
  assert.equal(calls[1].headers["Last-Event-ID"], "3");
  assert.equal(seen.states.find((s) => s.state === "reconnecting").reason, "no byte for 0.1 s");
  assert.equal(seen.events.length, 1, "the replayed id 3 is not delivered twice");
});

test("close() stops everything and says closed", async () => {
  const { fetch, calls } = script(stream(""));
  const sub = subscribe({ url: "http://hub.test/events", topics: ["a"], fetch });
  const seen = record(sub);
  await until(() => seen.states.some((s) => s.state === "open"));
  sub.close();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls.length, 1);
  assert.ok(calls[0].signal.aborted);
  assert.deepEqual(seen.states.map((s) => s.state), ["connecting", "open", "closed"]);
});

test("closeWhenHidden: the stream closes while the page is hidden and resumes when shown", async (t) => {
  const doc = Object.assign(new EventTarget(), { hidden: false });
  globalThis.document = doc;
  const { fetch, calls } = script(stream("id: 4\ndata: x\n\n"));
  const sub = subscribe({ url: "http://hub.test/events", topics: ["a"], closeWhenHidden: true, fetch });
  t.after(() => { sub.close(); delete globalThis.document; });
  const seen = record(sub);
  await until(() => seen.events.length === 1);
  doc.hidden = true;
  doc.dispatchEvent(new Event("visibilitychange"));
  assert.ok(calls[0].signal.aborted);
  assert.deepEqual(seen.states.at(-1), { state: "closed", attempt: 0, reason: "hidden" });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls.length, 1, "no request while hidden");
  doc.hidden = false;
  doc.dispatchEvent(new Event("visibilitychange"));
  await until(() => calls.length === 2 && seen.states.at(-1).state === "open");
  assert.equal(calls[1].url.searchParams.get("lastEventId"), "4");
  assert.equal(seen.events.length, 1, "id 4 again is dropped");
});

test("a stream that ends at once, again and again, backs off more each time", async (t) => {
  const { fetch, calls } = script(stream("retry: 100\n\n", true));
  const sub = subscribe({ url: "http://hub.test/events", topics: ["a"], fetch });
  t.after(() => sub.close());
  const seen = record(sub);
  await until(() => calls.length >= 3, 3000);
  const attempts = seen.states.filter((s) => s.state === "reconnecting").map((s) => s.attempt);
  assert.deepEqual(attempts.slice(0, 2), [1, 2], "the attempt count grows: the backoff bound doubles");
});
