// @ssevents/client: subscribe to an ssevents server (the Go library's App or
// the `ssevents serve` hub) from a browser or Node 18+. One ES module, no
// dependency. The stream is read with fetch (so headers can be set) and
// parsed per the WHATWG rules; it resumes with Last-Event-ID, refreshes its
// token, backs off with full jitter, and, in browsers, shares one stream
// between every tab of an origin. README "Browser client" documents it all.

// Parser parses a text/event-stream as the HTML standard's EventSource
// does. Feed it decoded text with push(), in chunks cut anywhere (a CRLF may
// span two chunks). Lines end with CRLF, LF or CR; ":" lines are comments;
// "data:" lines are joined with "\n"; an event is dispatched at a blank
// line, one without data is not (its id still counts); "retry:" with digits
// only calls onRetry(ms); an id containing NUL is ignored. The extra field
// "topic:" names the event's topic. onEvent gets {type, data, id, topic,
// lastEventId}: id is the event's own id ("" without one), lastEventId the
// stream's position after it, to resume from.
export class Parser {
  constructor(onEvent, onRetry, lastEventId) {
    this.onEvent = onEvent;
    this.onRetry = onRetry || (() => {});
    this.lastEventId = lastEventId || ""; // the spec's "last event ID buffer"
    this.line = ""; // the incomplete line at the end of the last chunk
    this.cr = false; // the last chunk ended with CR: skip a LF first
    this.reset();
  }

  reset() { Object.assign(this, { type: "", data: "", topic: "", has: false, id: null }); }

  push(text) {
    let start = this.cr && text[0] === "\n" ? 1 : 0;
    this.cr = false;
    for (let i = start; i < text.length; i++) {
      const c = text[i];
      if (c !== "\n" && c !== "\r") continue;
      this.field(this.line + text.slice(start, i));
      this.line = "";
      if (c === "\r") {
        if (i + 1 === text.length) this.cr = true;
        else if (text[i + 1] === "\n") i++;
      }
      start = i + 1;
    }
    this.line += text.slice(start);
  }

  field(line) {
    if (line === "") {
      const ev = { type: this.type || "message", data: this.data.slice(0, -1), id: this.id || "", topic: this.topic, lastEventId: this.lastEventId };
      const send = this.has;
      this.reset();
      if (send) this.onEvent(ev);
      return;
    }
    const colon = line.indexOf(":");
    if (colon === 0) return; // a comment: the hub's heartbeats
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + (line[colon + 1] === " " ? 2 : 1));
    if (name === "event") this.type = value;
    else if (name === "data") this.data += value + "\n", this.has = true;
    else if (name === "id") { if (!value.includes("\0")) this.lastEventId = this.id = value; }
    else if (name === "retry") { if (/^\d+$/.test(value)) this.onRetry(+value); }
    else if (name === "topic") this.topic = value;
  }
}

// backoff returns a delay in [0, min(cap, base * 2^attempt)) ms: full jitter,
// so that clients cut off together do not come back together.
export const backoff = (attempt, base, cap) => Math.random() * Math.min(cap, base * 2 ** attempt);

// retryAfter reads a Retry-After header (seconds or an HTTP date) in ms.
const retryAfter = (v) => Math.max(0, !v ? 0 : /^\d+$/.test(v) ? v * 1000 : Date.parse(v) - Date.now() || 0);

// failure turns a refused response into an Error with its status and the
// server's JSON {"error": ...} message.
async function failure(resp) {
  let msg = "";
  try {
    msg = await resp.text();
    msg = JSON.parse(msg).error || msg;
  } catch { /* not JSON: the text as is */ }
  if (resp.ok) msg = "not an event stream (Content-Type " + resp.headers.get("Content-Type") + ")";
  return Object.assign(new Error(("HTTP " + resp.status + " " + resp.statusText).trim() + (msg ? ": " + String(msg).trim() : "")), { status: resp.status });
}

const base = () => globalThis.location?.href;

// connect holds one stream open until close(): o is subscribe's options
// with topics and presence final. onEvent gets the parser's events,
// onState {state, attempt, delay, reason, error}.
function connect(o, onEvent, onState) {
  let last = o.since || "";
  let first = true; // the first request sends since as ?lastEventId=
  let retry = o.retry ?? 1000; // the backoff's base: the server's retry:
  let attempt = 0; // failed attempts since a stream last delivered
  let denied = 0; // 401s in a row
  let stale = true; // the token must be (re)fetched
  let token, ctrl, wake, dead = false;
  const state = (s, more) => dead || onState({ state: s, attempt, ...more });

  async function once() {
    state("connecting");
    ctrl = new AbortController();
    if (stale && o.getToken) {
      try { token = await o.getToken(); } catch (e) { return { reason: "getToken failed: " + e.message }; }
    }
    stale = false;
    if (dead) return {};
    const url = new URL(o.url, base());
    url.searchParams.set("topic", o.topics.join(","));
    if (o.presence) url.searchParams.set("presence", "true");
    const headers = { Accept: "text/event-stream" };
    if (token) headers.Authorization = "Bearer " + token;
    if (last && first) url.searchParams.set("lastEventId", last);
    else if (last) headers["Last-Event-ID"] = last;
    let resp;
    try {
      resp = await (o.fetch || fetch)(url, { headers, signal: ctrl.signal, cache: "no-store", credentials: o.credentials || "same-origin" });
    } catch (e) {
      return { reason: "network error: " + e.message };
    }
    first = false;
    const s = resp.status;
    if (s === 401) {
      stale = true;
      const e = await failure(resp);
      return ++denied > 1 ? { error: e } : { delay: 0, reason: e.message };
    }
    if (s === 408 || s === 429 || s >= 500) {
      const e = await failure(resp);
      return { delay: Math.max(retryAfter(resp.headers.get("Retry-After")), backoff(attempt, retry, o.maxDelay ?? 30000)), reason: e.message };
    }
    if (!resp.ok || !(resp.headers.get("Content-Type") || "").startsWith("text/event-stream")) return { error: await failure(resp) };
    denied = 0;
    state("open");
    let expired = false; // token_expired came: reconnect at once
    let silent = false; // the watchdog fired
    let timer = 0;
    const watch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => { silent = true; ctrl.abort(); }, o.heartbeat * 2000);
    };
    const parser = new Parser((ev) => {
      last = ev.lastEventId;
      attempt = 0; // a stream that delivers is healthy
      if (ev.type === "token_expired") expired = stale = true;
      onEvent(ev);
    }, (ms) => { retry = ms; }, last);
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (let chunks = (watch(), 0); ;) {
        const { done, value } = await reader.read();
        if (done || dead) break;
        if (++chunks > 1) attempt = 0; // more than the retry: line (a heartbeat): healthy
        watch();
        parser.push(decoder.decode(value, { stream: true }));
      }
    } catch (e) {
      if (!silent) return { reason: "the stream broke: " + e.message };
    } finally {
      clearTimeout(timer);
    }
    if (silent) return { reason: "no byte for " + 2 * o.heartbeat + " s" };
    return expired ? { delay: 0, reason: "the token expired" } : { reason: "the server ended the stream" };
  }

  (async () => {
    await 0; // connect returns before the first state
    while (!dead) {
      const r = await once();
      if (dead) return;
      if (r.error) {
        state("closed", { error: r.error, status: r.error.status });
        dead = true;
        return;
      }
      const delay = r.delay ?? backoff(attempt, retry, o.maxDelay ?? 30000);
      attempt++;
      state("reconnecting", { delay, reason: r.reason });
      await new Promise((res) => { wake = res; setTimeout(res, delay); });
    }
  })();

  return {
    get dead() { return dead; },
    close() {
      dead = true;
      ctrl?.abort();
      wake?.();
    },
  };
}

// toEvent is what handlers get: {id, event, data, topic}, data parsed as
// JSON when it is JSON; topic from the stream's topic: field, else the only
// topic of the stream, else the data's "topic".
function toEvent(ev, topics) {
  let data = ev.data;
  try { data = JSON.parse(data); } catch { /* not JSON: the text */ }
  const topic = ev.topic || (topics.length === 1 ? topics[0] : typeof data?.topic === "string" ? data.topic : undefined);
  return { id: ev.id, event: ev.type, data, topic };
}

// wants says whether a subscription receives ev: one of its topics, or no
// topic known; presence events only with presence on.
const wants = (o, ev) => (o.presence || !["presence", "join", "leave"].includes(ev.event)) && (ev.topic === undefined || o.topics.includes(ev.topic));

// subscribe opens (or joins) a stream for options.topics and returns the
// subscription: on(name, fn) to listen (name: an event name, "*" for every
// event, "state" for the connection's state), close() to stop.
export function subscribe(options = {}) {
  const o = { url: "/events", heartbeat: 15, ...options };
  o.topics = [...new Set(o.topics || [])];
  const fns = new Map();
  const seen = new Set(); // recent ids: nothing twice across a takeover
  let closed = false, stop = () => {};
  const fire = (name, v) => fns.get(name)?.forEach((fn) => fn(v));
  const sub = {
    o,
    get topics() { return o.topics; },
    on(name, fn) {
      if (!fns.has(name)) fns.set(name, new Set());
      fns.get(name).add(fn);
      return () => fns.get(name).delete(fn); // stops listening
    },
    close(s) { // s: the last state, when the shared stream refused this subscription
      if (closed) return;
      closed = true;
      stop();
      fire("state", s || { state: "closed", attempt: 0 });
    },
    event(ev) {
      if (closed || !wants(o, ev)) return;
      if (ev.id) {
        if (seen.has(ev.id)) return;
        seen.add(ev.id);
        if (seen.size > 1000) seen.delete(seen.values().next().value);
      }
      if (ev.event !== "state") fire(ev.event, ev);
      fire("*", ev);
    },
    state(s) { if (!closed) fire("state", s); },
  };
  const shared = o.shared !== false && !o.closeWhenHidden && globalThis.navigator?.locks && globalThis.BroadcastChannel;
  queueMicrotask(() => {
    if (closed) return;
    if (shared) stop = join(sub);
    else if (o.closeWhenHidden && globalThis.document) stop = whileVisible(sub);
    else {
      const c = connect(o, (ev) => sub.event(toEvent(ev, o.topics)), sub.state);
      stop = () => c.close();
    }
  });
  return sub;
}

// whileVisible holds the stream only while the page is visible, resuming
// from the last id when it shows again.
function whileVisible(sub) {
  const doc = document;
  let c = null;
  const toggle = () => {
    c?.close();
    if (doc.hidden && c) sub.state({ state: "closed", attempt: 0, reason: "hidden" });
    c = doc.hidden ? null : connect(sub.o, (ev) => { sub.o.since = ev.lastEventId; sub.event(toEvent(ev, sub.o.topics)); }, sub.state);
  };
  doc.addEventListener("visibilitychange", toggle);
  toggle();
  return () => { doc.removeEventListener("visibilitychange", toggle); c?.close(); };
}

// groups holds this tab's shared streams, one per endpoint URL.
const groups = new Map();

// join adds sub to the tab's group for its URL. The tab holding the Web
// Lock of that URL (the leader) holds one stream for the union of every
// tab's topics and posts each event on a BroadcastChannel; the other tabs
// announce their subscriptions there. When the leader goes, the next tab
// granted the lock resumes from the last id posted.
function join(sub) {
  const key = "ssevents " + new URL(sub.o.url, base()).href;
  let g = groups.get(key);
  if (!g) groups.set(key, (g = group(key)));
  g.add(sub);
  return () => g.remove(sub);
}

function group(key) {
  const me = Math.random().toString(36).slice(2);
  const bc = new BroadcastChannel(key);
  const subs = new Set();
  const remote = new Map(); // tab -> [{topics, presence}] of the other tabs
  const abort = new AbortController();
  let leader = false;
  let leaderTab = ""; // the tab that posted the last event or state
  let release, conn, prev, lastState; // prev: the stream conn replaces, until conn is open
  let current = ""; // the topics and presence of conn
  let last = ""; // the last id seen, leader or not: where a new leader resumes
  let timer = 0;

  const specs = () => [...subs].map((s) => ({ topics: s.o.topics, presence: !!s.o.presence }));
  const announce = (list = specs()) => bc.postMessage({ t: "subs", tab: me, subs: list });
  const deliver = (ev) => subs.forEach((s) => s.event(ev));
  // A subscription is open once the stream covers its topics (s.topics,
  // the union): until the leader reconnects for it, it is connecting.
  const tell = (x, s) => x.state(s.state === "open" && !x.o.topics.every((t) => s.topics.includes(t)) ? { ...s, state: "connecting" } : s);
  const setState = (s) => { lastState = s; subs.forEach((x) => tell(x, s)); };
  const post = (m) => bc.postMessage({ ...m, from: me, last });
  const postState = (s, t = "state") => post({ t, s: { ...s, error: s.error?.message } });
  const revive = (s) => ({ ...s, error: s.error && Object.assign(new Error(s.error), { status: s.status }) });
  // A 403 naming a topic closes the subscriptions that asked for it, in
  // every tab; the stream goes on for the others, without it.
  const deny = (s) => {
    const topic = s.status === 403 && /topic "([^"]+)"/.exec(s.error.message)?.[1];
    subs.forEach((x) => x.o.topics.includes(topic) && x.close(s));
    return topic;
  };

  // restart (leader only) opens a stream for the union when it changed or
  // the current one gave up, resuming from the last id.
  function restart() {
    clearTimeout(timer);
    if (!leader || !subs.size) return;
    const all = specs().concat(...remote.values());
    const topics = [...new Set(all.flatMap((s) => s.topics))].sort();
    const presence = all.some((s) => s.presence);
    const k = topics + " " + presence;
    if (k === current && conn && !conn.dead) return;
    current = k;
    // With an id to resume from, the new stream replays what the old one
    // would have had; without, the old one runs until the new one is open
    // (subscriptions drop the ids they get twice).
    prev?.close();
    prev = last ? conn?.close() : conn;
    const o = [...subs][0].o;
    const c = (conn = connect({ ...o, topics, presence, since: last || o.since }, (raw) => {
      last = raw.lastEventId || last;
      const ev = toEvent(raw, topics);
      post({ t: "ev", ev });
      deliver(ev);
    }, (s) => {
      if (c !== conn) return;
      if (s.state === "open") prev = prev?.close();
      if (deny(s)) return postState(s, "deny"), later();
      setState((s = { ...s, topics }));
      postState(s);
    }));
  }
  const later = () => { clearTimeout(timer); timer = setTimeout(restart, 20); };

  bc.onmessage = ({ data: m }) => {
    if (m.t === "subs") {
      if (m.subs.length) remote.set(m.tab, m.subs);
      else remote.delete(m.tab);
      if (leader) later();
      if (leader && lastState) postState(lastState);
      return;
    }
    if (m.t === "hello") return subs.size && announce();
    if (leader) return;
    leaderTab = m.from;
    last = m.last;
    if (m.t === "ev") deliver(m.ev);
    else if (m.t === "deny") deny(revive(m.s));
    else setState(revive(m.s));
  };
  // A tab that goes away (or into the back/forward cache) withdraws its topics.
  const life = { pagehide: () => announce([]), pageshow: (e) => e.persisted && announce() };
  for (const n in life) globalThis.addEventListener?.(n, life[n]);

  navigator.locks.request(key, { signal: abort.signal }, () => new Promise((res) => {
    release = res;
    leader = true;
    remote.delete(leaderTab); // the tab that held the stream is gone
    bc.postMessage({ t: "hello" });
    restart();
  })).catch(() => { /* released before granted */ });

  return {
    add(sub) {
      subs.add(sub);
      if (lastState) tell(sub, lastState);
      if (leader) later();
      announce();
    },
    remove(sub) {
      subs.delete(sub);
      announce();
      if (subs.size) return leader && later();
      groups.delete(key);
      for (const n in life) globalThis.removeEventListener?.(n, life[n]);
      [conn, prev].forEach((c) => c?.close());
      clearTimeout(timer);
      abort.abort();
      release?.();
      bc.close();
    },
  };
}
