// Types of @ssevents/client (ssevents.js). See README "Browser client".

/** One event as handlers receive it. */
export interface SSEvent<D = unknown> {
  /** The event's id ("" for events without one: presence, join, leave, heartbeat). */
  id: string;
  /** The event name (the stream's `event:` field; "message" when it has none). */
  event: string;
  /** The data, parsed as JSON when it is JSON, else the text. */
  data: D;
  /** The topic: the stream's `topic:` field, else the stream's only topic, else the data's `topic`; undefined when none says. */
  topic?: string;
}

/** The connection's state, given to `on("state", fn)`. */
export interface StreamState {
  /** connecting: a request is under way; open: the stream is live; reconnecting: waiting `delay` ms; closed: given up (`error`) or closed. */
  state: "connecting" | "open" | "reconnecting" | "closed";
  /** Failed attempts since the stream was last open. */
  attempt: number;
  /** With reconnecting: the wait before the next attempt, ms. */
  delay?: number;
  /** With reconnecting: why the last attempt ended; with closed, "hidden" under closeWhenHidden. */
  reason?: string;
  /** In a shared subscription: the topics of the shared stream (every tab's). */
  topics?: string[];
  /** With closed after a refusal: what the server said ("HTTP 403 Forbidden: ..."). */
  error?: Error & { status?: number };
  /** With closed after a refusal: its HTTP status. */
  status?: number;
}

/** The payloads of the reserved events the server sends. */
export interface ReservedEvents {
  resync: { topics: string[]; topic: string; reason: "history_exceeded" | "evicted" | "dataset_changed" | string; oldest?: string; genesis?: string };
  token_expired: { exp: number };
  heartbeat: { time: string };
  presence: { topic: string; users: number; connections: number; members: { user: string; connections: number; info?: unknown }[] };
  join: { id: string; type: "join"; topic: string; user: string; info?: unknown; connections: number; time: string };
  leave: { id: string; type: "leave"; topic: string; user: string; info?: unknown; connections: number; time: string };
}

export interface SubscribeOptions {
  /** The SSE endpoint, absolute or relative to the page (absolute in Node). Default "/events". */
  url?: string;
  /** Topics of the stream (`?topic=a,b`). */
  topics: string[];
  /** Returns the bearer token sent as `Authorization`; called first, after `token_expired` and after a 401. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** An id (or a position) to start after, sent as `?lastEventId=` on the first request. */
  since?: string;
  /** Share one stream between this origin's tabs (Web Locks + BroadcastChannel). Default true; false: this subscription's own stream. */
  shared?: boolean;
  /** Ask for presence: `presence`, `join` and `leave` events. Default false. */
  presence?: boolean;
  /** The server's heartbeat interval in seconds: no byte for twice that reconnects. Default 15. */
  heartbeat?: number;
  /** Backoff base in ms until the server's `retry:` says otherwise. Default 1000. */
  retry?: number;
  /** Longest backoff in ms. Default 30000. */
  maxDelay?: number;
  /** Close the stream while the page is hidden, resume when shown (implies shared: false). Default false. */
  closeWhenHidden?: boolean;
  /** fetch's credentials mode. Default "same-origin". */
  credentials?: RequestCredentials;
  /** The fetch to use. Default globalThis.fetch. */
  fetch?: typeof fetch;
}

/** A subscription. `E` maps event names to their data types. */
export interface Subscription<E extends Record<string, unknown> = Record<string, unknown>> {
  readonly topics: string[];
  /** Listens for the connection's state. Returns a function that stops listening. */
  on(name: "state", fn: (s: StreamState) => void): () => void;
  /** Listens for every event. */
  on(name: "*", fn: (ev: SSEvent<unknown>) => void): () => void;
  /** Listens for one named event, reserved or published. */
  on<K extends keyof (E & ReservedEvents) & string>(name: K, fn: (ev: SSEvent<(E & ReservedEvents)[K]>) => void): () => void;
  on(name: string, fn: (ev: SSEvent<unknown>) => void): () => void;
  /** Stops: the stream (or this tab's share of it) ends, no handler is called again but a last "closed" state. */
  close(): void;
}

/** Opens (or joins) a stream for `options.topics`. */
export function subscribe<E extends Record<string, unknown> = Record<string, unknown>>(options: SubscribeOptions): Subscription<E>;

/** The WHATWG stream parser. */
export class Parser {
  constructor(
    onEvent: (ev: { type: string; data: string; id: string; topic: string; lastEventId: string }) => void,
    onRetry?: (ms: number) => void,
    lastEventId?: string,
  );
  lastEventId: string;
  push(text: string): void;
}

/** A full-jitter delay in [0, min(cap, base * 2^attempt)) ms. */
export function backoff(attempt: number, base: number, cap: number): number;
