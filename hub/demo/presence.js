// Who is online, for the ssevents hub demo: the page's stream asks for
// presence (?presence=true), so the hub sends a `presence` snapshot per
// tracked topic first, then `join` and `leave` events. This file keeps the
// members per topic and draws them in the "Online" section; demo.js calls
// sseDemoPresence.apply(name, data) with every such event, and reset() when
// its stream opens (a fresh snapshot follows: presence is not history).
"use strict";

const sseDemoPresence = (function () {
  const topics = new Map(); // topic -> {users, members: Map(user -> {connections, info})}

  function label(user, m) {
    const name = m.info && typeof m.info === "object" && typeof m.info.name === "string" ? m.info.name : "";
    let text = name && name !== user ? name + " (" + user + ")" : user;
    if (m.connections > 1) text += " ×" + m.connections;
    if (m.connections === 0) text += " (reconnecting)";
    return text;
  }

  function render() {
    const box = document.getElementById("online");
    if (!box) return;
    box.textContent = "";
    if (topics.size === 0) {
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = "No tracked topic on this stream (start the hub with SSE_PRESENCE=pattern,...).";
      box.appendChild(p);
      return;
    }
    for (const [topic, t] of [...topics.entries()].sort()) {
      const div = document.createElement("div");
      div.className = "online-topic";
      div.dataset.topic = topic;
      const h = document.createElement("b");
      h.textContent = topic + ": " + t.users + (t.users === 1 ? " user" : " users") + " online";
      div.appendChild(h);
      const ul = document.createElement("ul");
      for (const [user, m] of [...t.members.entries()].sort()) {
        const li = document.createElement("li");
        li.dataset.user = user;
        li.textContent = label(user, m); // never innerHTML: names are untrusted
        ul.appendChild(li);
      }
      div.appendChild(ul);
      box.appendChild(div);
    }
  }

  // apply takes a presence, join or leave event: its name and its data.
  function apply(type, v) {
    if (!v || typeof v.topic !== "string") return;
    if (type === "presence") {
      const members = new Map();
      for (const m of v.members || []) members.set(m.user, { connections: m.connections, info: m.info });
      topics.set(v.topic, { users: v.users, members: members });
    } else {
      let t = topics.get(v.topic);
      if (!t) { t = { users: 0, members: new Map() }; topics.set(v.topic, t); }
      const had = t.members.has(v.user);
      if (type === "join") {
        t.members.set(v.user, { connections: v.connections, info: v.info });
        if (!had) t.users++;
      } else if (type === "leave") {
        if (had) { t.members.delete(v.user); t.users = Math.max(0, t.users - 1); }
      }
    }
    render();
  }

  function reset() {
    topics.clear();
    render();
  }

  return { apply: apply, reset: reset };
})();
