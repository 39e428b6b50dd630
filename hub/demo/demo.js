// The ssevents hub demo: subscribe to topics, publish through POST /publish,
// show every event as it arrives, whatever its name. Plain JS, no
// dependencies.
//
// EventSource only delivers the event names one listens to, so the page
// reads the stream with fetch and parses it itself (SSEParser), and
// reconnects the way EventSource does: after the server's retry: delay
// (doubled on each failed attempt), sending Last-Event-ID.
"use strict";

// SSEParser parses a text/event-stream as the HTML standard's EventSource
// does. Feed it decoded text with push(), in chunks cut anywhere (a line,
// or a CRLF, may span two chunks). Lines end with CRLF, LF or CR; lines
// starting with ":" are comments; "data:" lines are joined with "\n"; an
// event is dispatched at a blank line, and one without data is not (its
// id still counts); "retry:" with digits only calls onRetry(ms). A leading
// BOM is removed by TextDecoder, not here. onEvent receives
// {type, data, id, lastEventId, topic}: id is the event's own id line (""
// when it had none), lastEventId the stream's cursor after it, to resume
// from, topic the hub's "topic:" line (on a stream of several topics; "").
class SSEParser {
  constructor(onEvent, onRetry, lastEventId) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.lastEventId = lastEventId || ""; // the spec's "last event ID buffer"
    this.line = "";   // the incomplete line at the end of the last chunk
    this.afterCR = false; // the last chunk ended with CR: skip a LF first
    this.type = "";
    this.data = "";
    this.hasData = false;
    this.id = null;   // the id line of the event being read, if any
    this.topic = "";  // its topic line, if any
  }

  push(text) {
    let start = 0;
    if (this.afterCR && text.charAt(0) === "\n") start = 1;
    this.afterCR = false;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.field(this.line + text.slice(start, i));
      this.line = "";
      if (c === 13) {
        if (i + 1 === text.length) this.afterCR = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.line += text.slice(start);
  }

  field(line) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.charAt(0) === ":") return; // a comment (the hub's heartbeats)
    let name = line;
    let value = "";
    const colon = line.indexOf(":");
    if (colon >= 0) {
      name = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charAt(0) === " ") value = value.slice(1);
    }
    switch (name) {
      case "event": this.type = value; break;
      case "topic": this.topic = value; break; // the hub's, not the standard's
      case "data": this.data += value + "\n"; this.hasData = true; break;
      case "id":
        if (value.indexOf("\0") < 0) {
          this.lastEventId = value;
          this.id = value;
        }
        break;
      case "retry": if (/^[0-9]+$/.test(value)) this.onRetry(parseInt(value, 10)); break;
      default: break; // unknown fields are ignored
    }
  }

  dispatch() {
    const ev = { type: this.type || "message", data: this.data.slice(0, -1), id: this.id || "", lastEventId: this.lastEventId, topic: this.topic };
    const send = this.hasData;
    this.type = "";
    this.topic = "";
    this.data = "";
    this.hasData = false;
    this.id = null;
    if (send) this.onEvent(ev);
  }
}

(function () {
  const $ = (id) => document.getElementById(id);
  const path = document.querySelector('meta[name="ssevents-path"]').content;
  const maxRows = 500;         // older rows are dropped: the page may stay open for days
  const maxDelay = 30000;      // the longest wait between two attempts, ms
  const notes = {
    resync: "The hub could not replay every event missed since the last id for this topic: " +
      "refetch its state from your API.",
    token_expired: "The token expired, so the hub ended the stream. The page reconnects with the " +
      "token in the field: paste a fresh one (or press Enter once you have).",
  };

  // Why the hub sent a resync, by the reason in its data.
  const resyncReasons = {
    history_exceeded: "Its history no longer reaches back to the last id (too many events, or too old) [history_exceeded].",
    evicted: "Its history was evicted to keep the hub within its memory bounds [evicted].",
    dataset_changed: "The last id is from a dataset the hub no longer holds: a restart without data, " +
      "a flushed or failed-over Redis, or an unknown id [dataset_changed].",
  };

  const conn = {
    gen: 0,           // bumped by every (re)start: older attempts stop quietly
    ctrl: null,       // aborts the running fetch
    timer: 0,         // the pending reconnection
    tick: 0,          // the countdown shown while waiting
    topics: [],       // the topics of the current stream
    lastEventId: "",  // resume point, sent as Last-Event-ID
    retry: 3000,      // the server's retry: (ms); EventSource's usual default until it speaks
    attempt: 0,       // failed attempts in a row
  };

  function list(s) {
    return s.split(",").map((v) => v.trim()).filter((v) => v !== "");
  }

  // setStatus shows the connection state (connecting, open, reconnecting,
  // closed), in data-state too; refused marks a closed one the hub refused.
  function setStatus(state, text, refused) {
    const el = $("status");
    el.dataset.state = state;
    el.className = "status " + state + (refused ? " error" : "");
    el.textContent = text;
  }

  function stop() {
    conn.gen++;
    if (conn.ctrl) conn.ctrl.abort();
    conn.ctrl = null;
    clearTimeout(conn.timer);
    clearInterval(conn.tick);
  }

  // apply (re)connects to the topics in the field. Other topics than the
  // stream's start afresh; the same ones resume from the last event.
  function apply() {
    const topics = list($("sub-topics").value);
    if (topics.join(",") !== conn.topics.join(",")) conn.lastEventId = "";
    conn.topics = topics;
    conn.attempt = 0;
    const url = new URL(location.href);
    url.searchParams.set("topic", topics.join(","));
    url.searchParams.delete("lastEventId");
    history.replaceState(null, "", url);
    updateHowto();
    stop();
    open(conn.gen);
  }

  function disconnect() {
    stop();
    setStatus("closed", "disconnected");
  }

  async function open(gen) {
    setStatus("connecting", conn.attempt ? "connecting… (reconnection attempt " + conn.attempt + ")" : "connecting…");
    const params = new URLSearchParams();
    params.set("topic", conn.topics.join(","));
    params.set("presence", "true"); // who is online: see presence.js
    const token = $("token").value.trim();
    if (token) params.set("access_token", token);
    const headers = { Accept: "text/event-stream" };
    if (conn.lastEventId) headers["Last-Event-ID"] = conn.lastEventId;
    const ctrl = new AbortController();
    conn.ctrl = ctrl;
    let resp;
    try {
      resp = await fetch(path + "?" + params.toString(), { headers: headers, signal: ctrl.signal, cache: "no-store" });
    } catch (e) {
      if (gen === conn.gen) later(gen, "network error: " + e.message);
      return;
    }
    if (gen !== conn.gen) return;
    const type = resp.headers.get("Content-Type") || "";
    if (!resp.ok || !type.startsWith("text/event-stream")) {
      // Refused (EventSource gives up too): say why, and wait for the user.
      const why = await refusal(resp);
      if (gen !== conn.gen) return;
      stop();
      setStatus("closed", "closed: " + why, true);
      return;
    }
    conn.attempt = 0;
    sseDemoPresence.reset(); // the stream starts with fresh snapshots
    setStatus("open", "open: " + conn.topics.join(", "));
    const parser = new SSEParser((ev) => show(ev), (ms) => { conn.retry = ms; }, conn.lastEventId);
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const chunk = await reader.read();
        if (gen !== conn.gen) return;
        if (chunk.done) break;
        parser.push(decoder.decode(chunk.value, { stream: true }));
        conn.lastEventId = parser.lastEventId;
      }
    } catch (e) {
      if (gen === conn.gen) later(gen, "the stream broke: " + e.message);
      return;
    }
    later(gen, "the hub ended the stream");
  }

  // refusal describes a response that is not a stream: status and the
  // hub's JSON error message.
  async function refusal(resp) {
    let msg = "";
    try {
      const text = await resp.text();
      try { msg = JSON.parse(text).error || text; } catch (e) { msg = text; }
    } catch (e) { /* no body */ }
    if (resp.ok) msg = "not an event stream (Content-Type " + (resp.headers.get("Content-Type") || "none") + ")";
    return ("HTTP " + resp.status + " " + resp.statusText + (msg ? ": " + msg.trim() : "")).trim();
  }

  // later schedules the next attempt: the server's retry: delay, doubled
  // for each failed attempt in a row, at most maxDelay.
  function later(gen, why) {
    conn.attempt++;
    const delay = Math.min(conn.retry * Math.pow(2, conn.attempt - 1), maxDelay);
    const until = Date.now() + delay;
    const say = () => {
      const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      setStatus("reconnecting", "reconnecting in " + s + " s, attempt " + conn.attempt + " (" + why + ")");
    };
    say();
    clearInterval(conn.tick);
    conn.tick = setInterval(say, 250);
    conn.timer = setTimeout(() => {
      clearInterval(conn.tick);
      if (gen === conn.gen) open(gen);
    }, delay);
  }

  // topicOf says which topic an event came on: the event's topic line,
  // which the hub writes on a stream of several topics; else the payload's
  // "topic" when it has one, else the subscribed topics (marked as a guess
  // when there are several: a hub that predates the topic line).
  function topicOf(ev, value) {
    if (ev.topic) return [ev.topic, false];
    if (value && typeof value === "object") {
      if (ev.type === "resync" && Array.isArray(value.topics)) return [value.topics.join(", "), false];
      if (typeof value.topic === "string") return [value.topic, false];
    }
    return [conn.topics.join(", "), conn.topics.length > 1];
  }

  function show(ev) {
    if (ev.type === "presence" || ev.type === "join" || ev.type === "leave") sseDemoPresence.apply(ev);
    let value;
    let data = ev.data;
    try {
      value = JSON.parse(ev.data);
      data = JSON.stringify(value, null, 2);
    } catch (e) { /* not JSON: show as is */ }
    const [topic, guess] = topicOf(ev, value);
    const row = document.createElement("tr");
    row.dataset.event = ev.type;
    if (notes[ev.type]) row.className = "special " + ev.type;
    if (ev.type === "heartbeat") row.className = "heartbeat";
    const cell = (text, cls) => {
      const td = document.createElement("td");
      td.textContent = text; // never innerHTML: event data is untrusted
      if (cls) td.className = cls;
      row.appendChild(td);
      return td;
    };
    cell(new Date().toLocaleTimeString(), "time");
    cell(ev.type, "name");
    cell(ev.id, "id");
    const t = cell(topic, guess ? "topic guess" : "topic");
    if (guess) t.title = "The stream does not say which topic: these are the subscribed ones.";
    const d = cell("", "data");
    if (notes[ev.type]) {
      const note = document.createElement("div");
      note.className = "note";
      let text = notes[ev.type];
      if (ev.type === "token_expired" && value && value.exp) text = "Expired at " + new Date(value.exp * 1000).toLocaleTimeString() + ". " + text;
      if (ev.type === "resync" && value && typeof value.reason === "string") {
        text = (resyncReasons[value.reason] || "Reason: " + value.reason + ".") + " " + text;
      }
      note.textContent = text;
      d.appendChild(note);
    }
    d.appendChild(document.createTextNode(data));
    const body = $("events");
    body.prepend(row);
    while (body.rows.length > maxRows) body.deleteRow(-1);
  }

  function quote(s) {
    return "'" + s.replace(/'/g, "'\\''") + "'";
  }

  // updateHowto writes the curl command that publishes to the first topic.
  function updateHowto() {
    const topics = list($("sub-topics").value);
    const topic = topics[0] || "comments";
    const event = topic === "comments" ? "comment_created" : "update";
    const body = JSON.stringify({ topic: topic, event: event, data: { id: 1 } });
    let cmd = "curl -X POST " + location.origin + "/publish";
    const token = $("token").value.trim();
    if (token) cmd += " -H " + quote("Authorization: Bearer " + token);
    $("curl").textContent = cmd + " -d " + quote(body);
    $("howto-topics").textContent = topics.length ? topics.join(", ") : "the topics below";
  }

  async function copyCurl() {
    const text = $("curl").textContent;
    try {
      await navigator.clipboard.writeText(text);
      $("copy-curl").textContent = "Copied";
    } catch (e) {
      // No clipboard (a page not on localhost or https): select it instead.
      const range = document.createRange();
      range.selectNodeContents($("curl"));
      const sel = getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      $("copy-curl").textContent = "Press Ctrl+C";
    }
    setTimeout(() => { $("copy-curl").textContent = "Copy"; }, 2000);
  }

  async function publish() {
    const out = $("pub-result");
    out.className = "";
    out.textContent = "…";
    let data;
    try {
      data = JSON.parse($("pub-data").value || "null");
    } catch (e) {
      out.className = "error";
      out.textContent = "data is not valid JSON";
      return;
    }
    const headers = { "Content-Type": "application/json" };
    const token = $("token").value.trim();
    if (token) headers.Authorization = "Bearer " + token;
    try {
      const resp = await fetch("/publish", {
        method: "POST",
        headers: headers,
        body: JSON.stringify({ topic: $("pub-topic").value.trim(), event: $("pub-event").value.trim(), data: data }),
      });
      const body = await resp.json();
      if (resp.ok) {
        out.textContent = "published, id " + body.id;
      } else {
        out.className = "error";
        out.textContent = resp.status + ": " + body.error;
      }
    } catch (e) {
      out.className = "error";
      out.textContent = "request failed: " + e.message;
    }
  }

  // The page's own URL may name the topics (?topic=a,b) and, for a first
  // connection, where to resume from (?lastEventId=...).
  const query = new URLSearchParams(location.search);
  if (query.get("topic")) $("sub-topics").value = list(query.get("topic")).join(", ");
  $("subscribe").addEventListener("submit", (e) => { e.preventDefault(); apply(); });
  $("disconnect").addEventListener("click", disconnect);
  $("token").addEventListener("input", updateHowto);
  $("sub-topics").addEventListener("input", updateHowto);
  $("copy-curl").addEventListener("click", copyCurl);
  $("publish").addEventListener("submit", (e) => { e.preventDefault(); publish(); });
  $("clear").addEventListener("click", () => { $("events").textContent = ""; });
  conn.topics = list($("sub-topics").value);
  conn.lastEventId = query.get("lastEventId") || "";
  updateHowto();
  open(++conn.gen);
})();
