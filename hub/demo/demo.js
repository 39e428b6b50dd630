// The ssevents hub demo: subscribe to topics, publish through POST /publish,
// show every event as it arrives, whatever its name. An ES module on top of
// the hub's own client, @ssevents/client (served at /ssevents.js): it reads
// the stream with fetch, resumes with Last-Event-ID, backs off with full
// jitter, and shares one stream between the tabs of this page.
import { subscribe, Parser } from "/ssevents.js";

// The client's stream parser, for the console (and the page's tests).
window.SSEParser = Parser;

const $ = (id) => document.getElementById(id);
const path = document.querySelector('meta[name="ssevents-path"]').content;
const maxRows = 500; // older rows are dropped: the page may stay open for days
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
  sub: null,        // the subscription
  tick: 0,          // the countdown shown while waiting to reconnect
  topics: [],       // the topics of the current stream
  lastEventId: "",  // the last id seen: a new subscription to the same topics resumes there
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

// onState shows the client's state: what it does, its attempts, the wait
// before the next one and why, and a refusal it gave up on.
function onState(s) {
  clearInterval(conn.tick);
  if (s.state === "connecting") {
    setStatus("connecting", s.attempt ? "connecting… (reconnection attempt " + s.attempt + ")" : "connecting…");
  } else if (s.state === "open") {
    sseDemoPresence.reset(); // the stream starts with fresh snapshots
    setStatus("open", "open: " + conn.topics.join(", "));
  } else if (s.state === "reconnecting") {
    const until = Date.now() + s.delay;
    const say = () => {
      const secs = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      setStatus("reconnecting", "reconnecting in " + secs + " s, attempt " + s.attempt + " (" + s.reason + ")");
    };
    say();
    conn.tick = setInterval(say, 250);
  } else if (s.error) {
    setStatus("closed", "closed: " + s.error.message, true);
  } else {
    setStatus("closed", "disconnected");
  }
}

// start subscribes to conn.topics, with presence, the token in the field
// as the bearer token (read again after token_expired and a 401), from
// conn.lastEventId when there is one.
function start() {
  const old = conn.sub;
  const sub = subscribe({
    url: path,
    topics: conn.topics,
    presence: true, // who is online: see presence.js
    since: conn.lastEventId || undefined,
    getToken: () => $("token").value.trim() || null,
  });
  conn.sub = sub;
  onState({ state: "connecting", attempt: 0 }); // until the client says more
  sub.on("state", (s) => { if (conn.sub === sub) onState(s); });
  sub.on("*", (ev) => {
    if (ev.id) conn.lastEventId = ev.id;
    show(ev);
  });
  if (old) old.close();
}

// apply (re)connects to the topics in the field. Other topics than the
// stream's start afresh; the same ones resume from the last event.
function apply() {
  const topics = list($("sub-topics").value);
  if (topics.join(",") !== conn.topics.join(",")) conn.lastEventId = "";
  conn.topics = topics;
  const url = new URL(location.href);
  url.searchParams.set("topic", topics.join(","));
  url.searchParams.delete("lastEventId");
  history.replaceState(null, "", url);
  updateHowto();
  start();
}

function disconnect() {
  clearInterval(conn.tick);
  const sub = conn.sub;
  conn.sub = null;
  if (sub) sub.close();
  setStatus("closed", "disconnected");
}

// topicOf says which topic an event came on: the client's topic (the
// stream's topic field, the only topic, or the data's "topic"), else the
// subscribed topics, marked as a guess when there are several.
function topicOf(ev) {
  if (ev.event === "resync" && Array.isArray(ev.data && ev.data.topics)) return [ev.data.topics.join(", "), false];
  if (ev.topic !== undefined) return [ev.topic, false];
  return [conn.topics.join(", "), conn.topics.length > 1];
}

// show adds a row for ev, the client's {id, event, data, topic}, data
// parsed from JSON.
function show(ev) {
  const name = ev.event;
  const value = ev.data;
  if (name === "presence" || name === "join" || name === "leave") sseDemoPresence.apply(name, value);
  const data = JSON.stringify(value, null, 2);
  const [topic, guess] = topicOf(ev);
  const row = document.createElement("tr");
  row.dataset.event = name;
  if (notes[name]) row.className = "special " + name;
  if (name === "heartbeat") row.className = "heartbeat";
  const cell = (text, cls) => {
    const td = document.createElement("td");
    td.textContent = text; // never innerHTML: event data is untrusted
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  };
  cell(new Date().toLocaleTimeString(), "time");
  cell(name, "name");
  cell(ev.id, "id");
  const t = cell(topic, guess ? "topic guess" : "topic");
  if (guess) t.title = "The stream does not say which topic: these are the subscribed ones.";
  const d = cell("", "data");
  if (notes[name]) {
    const note = document.createElement("div");
    note.className = "note";
    let text = notes[name];
    if (name === "token_expired" && value && value.exp) text = "Expired at " + new Date(value.exp * 1000).toLocaleTimeString() + ". " + text;
    if (name === "resync" && value && typeof value.reason === "string") {
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
  // Over HTTPS, a hub whose certificate a private CA signed: curl trusts
  // the CA in $SSE_CA_FILE (the CLI's variable) when it is set.
  if (location.protocol === "https:") cmd += ' ${SSE_CA_FILE:+--cacert "$SSE_CA_FILE"}';
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
start();
