package sse

// ResyncReason says why the events of a topic since a Last-Event-ID cannot
// all be replayed. It is the "reason" of a resync event's data.
type ResyncReason string

// The reasons a broker gives for a resync.
const (
	// ResyncHistoryExceeded: events after the id were dropped from the
	// topic's history by its count or age bound (HistorySize,
	// HistoryAge). Resync.Oldest is the oldest id still held.
	ResyncHistoryExceeded ResyncReason = "history_exceeded"
	// ResyncEvicted: events after the id were dropped to keep the
	// broker's whole history within HistoryMaxTopics or HistoryMaxBytes.
	// Resync.Oldest is the oldest id still held.
	ResyncEvicted ResyncReason = "evicted"
	// ResyncDatasetChanged: the id was not issued by the dataset the
	// broker holds now (a previous embedded broker, a Redis restarted
	// without its data, flushed or failed over to a replica that lost
	// writes; or an id that is garbage or from the future). Resync.Genesis
	// is the first id of the current dataset: every id before it is
	// unknown.
	ResyncDatasetChanged ResyncReason = "dataset_changed"
	// ResyncDataLost: events after the id were lost to damage of the
	// broker's files on disk (a corrupted record of a durable embedded
	// broker). Resync.Oldest is the oldest id still held.
	ResyncDataLost ResyncReason = "data_lost"
)

// Resync is one topic of a Backlog whose events since the LastEventID
// cannot all be replayed, why, and what lets a client (or a checker)
// verify it. It is the data of the resync event the SSE handler sends for
// the topic, with "topics": [Topic] added for clients that predate it.
type Resync struct {
	// Topic is the topic to refetch.
	Topic string `json:"topic"`
	// Reason says why its events could not be replayed.
	Reason ResyncReason `json:"reason"`
	// Oldest, for ResyncHistoryExceeded and ResyncEvicted, is the id of
	// the oldest event of Topic the broker still holds; "" when it holds
	// none.
	Oldest string `json:"oldest,omitempty"`
	// Genesis, for ResyncDatasetChanged, is the first id of the dataset
	// the broker holds now (ids before it were issued by another one);
	// "" when the broker cannot tell.
	Genesis string `json:"genesis,omitempty"`
}

// ResyncTopics returns the topics of b.Resync, in its order.
func (b Backlog) ResyncTopics() []string {
	if len(b.Resync) == 0 {
		return nil
	}
	out := make([]string, len(b.Resync))
	for i, r := range b.Resync {
		out[i] = r.Topic
	}
	return out
}

// ResyncAll returns a Resync of reason ResyncDatasetChanged, with genesis,
// for each of topics.
func ResyncAll(topics []string, genesis string) []Resync {
	out := make([]Resync, len(topics))
	for i, t := range topics {
		out[i] = Resync{Topic: t, Reason: ResyncDatasetChanged, Genesis: genesis}
	}
	return out
}
