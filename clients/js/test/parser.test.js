// The stream parser against the WHATWG rules (the spec's own examples and
// the awkward cases: CR, LF and CRLF line ends cut between chunks, comments,
// fields without a colon, an id with NUL, retry lines) and the topic field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Parser } from "../ssevents.js";

// parse feeds the chunks to a parser and returns what it dispatched.
function parse(chunks, lastEventId) {
  const events = [];
  const retry = [];
  const p = new Parser((ev) => events.push(ev), (ms) => retry.push(ms), lastEventId);
  for (const c of chunks) p.push(c);
  return { events, retry, last: p.lastEventId };
}

const ev = (type, data, id = "", lastEventId = id, topic = "") => ({ type, data, id, topic, lastEventId });

test("the spec's examples", () => {
  // "data: YHOO\ndata: +2\ndata: 10\n\n" is one message event with three lines.
  assert.deepEqual(parse(["data: YHOO\ndata: +2\ndata: 10\n\n"]).events, [ev("message", "YHOO\n+2\n10")]);
  // A comment, then events with and without ids; the id persists.
  const r = parse([": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"]);
  assert.deepEqual(r.events, [ev("message", "first event", "1"), ev("message", "second event", "", ""), ev("message", " third event", "", "")]);
  // "data" alone is an empty line of data; two of them make "\n".
  assert.deepEqual(parse(["data\n\ndata\ndata\n\ndata:\n"]).events, [ev("message", ""), ev("message", "\n")]);
  // "data:test" and "data: test" are the same.
  assert.deepEqual(parse(["data:test\n\ndata: test\n\n"]).events, [ev("message", "test"), ev("message", "test")]);
});

test("line ends, chunks cut anywhere, ids, retry, unknown fields", () => {
  const r = parse(["retry: 1500\r", "\n: a comment\r\nid: 7\r\nevent: one\r\ndata: a\r", "\ndata:b\r\r",
    "data\n\nid: 8\nevent: two\nda", "ta: {\"x\"", ":1}\n", "\nid: 9\n\n",
    "id: bad\u0000id\ndata:  two spaces\nfoo: bar\n\nretry: 1x\nretry\ndata: unfinished"], "0");
  assert.deepEqual(r.events, [ev("one", "a\nb", "7"), ev("message", "", "", "7"), ev("two", '{"x":1}', "8"), ev("message", " two spaces", "", "9")]);
  assert.deepEqual(r.retry, [1500]);
  assert.equal(r.last, "9");
});

test("an event without data is not dispatched, its id still counts", () => {
  const r = parse(["id: 5\nevent: nothing\n\n"]);
  assert.deepEqual(r.events, []);
  assert.equal(r.last, "5");
});

test("the topic field names the event's topic, per event", () => {
  const r = parse(["id: 1\nevent: a\ntopic: t1\ndata: {}\n\nid: 2\nevent: b\ndata: {}\n\n"]);
  assert.deepEqual(r.events, [ev("a", "{}", "1", "1", "t1"), ev("b", "{}", "2", "2", "")]);
});

test("every way to cut a stream into two chunks parses alike", () => {
  const stream = "retry: 10\r\nid: 1\r\nevent: e\r\ntopic: t\r\ndata: x\r\n\r\n: hb\rid: 2\rdata: y\r\rdata: z\n\n";
  const whole = parse([stream]);
  assert.equal(whole.events.length, 3);
  for (let i = 0; i <= stream.length; i++) {
    assert.deepEqual(parse([stream.slice(0, i), stream.slice(i)]), whole, "cut at " + i);
  }
});
