// listen.mjs URL COUNT NAME... reads COUNT events from the SSE stream at
// URL with the npm eventsource package: "message" events and the named
// events NAME..., each printed as one JSON line {type, data,
// lastEventId}. It prints "open" when the stream is open, and exits 0
// after COUNT events, 1 on a stream error, 2 after 20 seconds.
import { EventSource } from "eventsource";

const [url, count, ...names] = process.argv.slice(2);
const es = new EventSource(url);
let got = 0;
const onEvent = (ev) => {
  console.log(JSON.stringify({ type: ev.type, data: ev.data, lastEventId: ev.lastEventId }));
  if (++got >= Number(count)) {
    es.close();
    process.exit(0);
  }
};
es.onopen = () => console.log("open");
es.onmessage = onEvent;
for (const name of names) es.addEventListener(name, onEvent);
es.onerror = (err) => {
  console.error("eventsource error:", err.message || err);
  process.exit(1);
};
setTimeout(() => {
  console.error(`timed out with ${got} of ${count} events`);
  process.exit(2);
}, 20000);
