// The ssevents hub demo: subscribe with EventSource, publish through
// POST /publish, show events as they arrive. Plain JS, no dependencies.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const path = document.querySelector('meta[name="ssevents-path"]').content;
  const statusEl = $("status");
  let source = null;
  let listened = new Set();

  function setStatus(text, cls) {
    statusEl.textContent = text;
    statusEl.className = "status " + cls;
  }

  function list(s) {
    return s.split(",").map((v) => v.trim()).filter((v) => v !== "");
  }

  function show(name, ev) {
    const row = document.createElement("tr");
    if (name === "resync") row.className = "resync";
    const cells = [new Date().toLocaleTimeString(), name, ev.lastEventId || "", ""];
    let data = ev.data;
    try { data = JSON.stringify(JSON.parse(ev.data), null, 2); } catch (e) { /* not JSON: show as is */ }
    cells[3] = data;
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text; // never innerHTML: event data is untrusted
      if (i === 3) td.className = "data";
      row.appendChild(td);
    });
    $("events").prepend(row);
  }

  // EventSource has no catch-all for named events: listen to each name.
  function listen(name) {
    if (!source || listened.has(name)) return;
    listened.add(name);
    source.addEventListener(name, (ev) => show(name, ev));
  }

  function connect() {
    disconnect();
    const params = new URLSearchParams();
    params.set("topic", list($("sub-topics").value).join(","));
    const token = $("token").value.trim();
    if (token) params.set("access_token", token);
    source = new EventSource(path + "?" + params.toString());
    listened = new Set();
    setStatus("connecting…", "connecting");
    source.onopen = () => setStatus("connected", "open");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        setStatus("closed (refused: check topics and token)", "error");
        $("connect").disabled = false;
        $("disconnect").disabled = true;
      } else {
        setStatus("reconnecting…", "connecting");
      }
    };
    ["message", "resync", "heartbeat"].concat(list($("sub-events").value)).forEach(listen);
    listen($("pub-event").value.trim());
    $("connect").disabled = true;
    $("disconnect").disabled = false;
  }

  function disconnect() {
    if (source) source.close();
    source = null;
    setStatus("disconnected", "closed");
    $("connect").disabled = false;
    $("disconnect").disabled = true;
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
    const event = $("pub-event").value.trim();
    listen(event);
    const headers = { "Content-Type": "application/json" };
    const token = $("token").value.trim();
    if (token) headers.Authorization = "Bearer " + token;
    try {
      const resp = await fetch("/publish", {
        method: "POST",
        headers: headers,
        body: JSON.stringify({ topic: $("pub-topic").value.trim(), event: event, data: data }),
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

  $("subscribe").addEventListener("submit", (e) => { e.preventDefault(); connect(); });
  $("disconnect").addEventListener("click", disconnect);
  $("publish").addEventListener("submit", (e) => { e.preventDefault(); publish(); });
  $("clear").addEventListener("click", () => { $("events").textContent = ""; });
  connect();
})();
