"""Reads a stream of two topics from an ssevents hub with httpx-sse and
checks that the topic line changes nothing for it: named events and
"message" events arrive with their data and ids.

Usage: python httpx_sse_check.py BASE_URL  (a hub that accepts loopback
publishes, as `ssevents serve` does without authentication). Exits 0 when
every check passes, 1 otherwise; prints what it received.
"""

import json
import sys
import threading

import httpx
from httpx_sse import connect_sse

base = sys.argv[1]
# What ssevents writes for unnamed events on a stream of several topics
# (the hub's publish API always names events), checked on a raw stream.
RAW = "retry: 1000\n\ntopic: a\ndata: m1\n\nid: 5-0\ntopic: b\ndata: {\"m\":2}\n\n"


def publish(client, topics, event, data):
    r = client.post(base + "/publish", json={"topics": topics, "event": event, "data": data})
    r.raise_for_status()
    return r.json()["id"]


def main():
    failures = []
    with httpx.Client(timeout=httpx.Timeout(10.0)) as client:
        got = []
        with connect_sse(client, "GET", base + "/events?topic=a,b") as source:
            want = []
            published = threading.Event()

            def pub():
                with httpx.Client() as c:
                    want.append(("tick", '{"n":1}', publish(c, ["a"], "tick", {"n": 1})))
                    want.append(("message", '"two"', publish(c, ["b"], "message", "two")))
                    want.append(("both", "3", publish(c, ["a", "b"], "both", 3)))
                published.set()

            # The stream is open (its headers came): publish now.
            threading.Thread(target=pub).start()
            for sse in source.iter_sse():
                if sse.data == "" and sse.retry is not None:
                    continue  # the retry block, which httpx-sse reports as an event
                got.append((sse.event, sse.data, sse.id))
                print("received", sse)
                if len(got) == 3:
                    break
            published.wait(10)
        if got != want:
            failures.append(f"hub stream: got {got}, want {want}")

    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, headers={"content-type": "text/event-stream"}, text=RAW)
    )
    with httpx.Client(transport=transport) as client:
        with connect_sse(client, "GET", "http://raw/") as source:
            raw = [(s.event, s.data, s.id) for s in source.iter_sse() if s.data != ""]
    for s in raw:
        print("received (raw)", s)
    want_raw = [("message", "m1", ""), ("message", '{"m":2}', "5-0")]
    if raw != want_raw:
        failures.append(f"raw stream: got {raw}, want {want_raw}")

    for f in failures:
        print("FAIL", f)
    print("httpx", httpx.__version__, "- all checks passed" if not failures else "- FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
