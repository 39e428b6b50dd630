// Command presload loads the presence of an SSE server and measures it:
// ssevents (GET /events?topic=T with a bearer JWT, GET /presence) or
// Centrifugo v6 (its unidirectional SSE transport /connection/uni_sse, a
// connection JWT that subscribes the stream server-side, and the server
// API's presence and presence_stats).
//
// It opens --streams streams of --users distinct users over --topics
// topics, the first --big of them on one topic (the "big" one), from
// several loopback source addresses; the first stream of every topic is a
// watcher that also receives the topic's join and leave events. Then it
// measures, and prints as one JSON report:
//
//   - converge: the time from the last stream's answer until the counts of
//     every topic (ours: users and connections of GET /presence?limit=0;
//     Centrifugo: num_users and num_clients of presence_stats) are exact;
//   - members: the latency of a members snapshot of the big topic (ours:
//     limit=100; Centrifugo's presence has no limit and returns every
//     client), and counts: the latency of the counts of the big topic;
//   - steady: the server's and Redis's CPU (from /proc/PID/stat) over a
//     window with every stream open and nothing else happening, which is
//     the cost of keeping presence alive (Centrifugo refreshes each
//     subscription's presence every 27 s);
//   - churn: --churn streams of the big topic closed at --churn-rate a
//     second, then opened again: the time until the counts are exact
//     after each half, and the latency of the leave and join events at the
//     big topic's watcher, from the close (or the answer) of each stream;
//   - Redis's used_memory (INFO memory) before the streams and with them.
//
// It is a nested module (its own go.mod) so that the core module never
// sees what a load program needs; today it needs only the standard
// library. compare.sh beside it builds Centrifugo, starts Redis and both
// servers, and runs it against each.
package main
