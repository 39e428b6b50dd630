package main

// report is presload's JSON output. Times are in milliseconds, CPU in
// seconds and percent of one core, memory in bytes (Redis) or MiB (RSS).
type report struct {
	Target      string `json:"target"`
	URL         string `json:"url"`
	Start       string `json:"start"`
	Streams     int    `json:"streams"`
	Users       int    `json:"users"`
	Topics      int    `json:"topics"`
	Big         int    `json:"big_topic_streams"`
	SourceAddrs int    `json:"source_addrs"`
	// LoadStart and LoadEnd are the machine's 1-minute load average
	// (/proc/loadavg) when the run started and ended: other work on the
	// machine skews every figure.
	LoadStart string `json:"load_start"`
	LoadEnd   string `json:"load_end"`

	Open     openReport  `json:"open"`
	Converge convergence `json:"converge"`
	Watchers struct {
		JoinsDuringOpen int `json:"joins_during_open"`
		Joins           int `json:"joins"`
		Leaves          int `json:"leaves"`
	} `json:"watchers"`
	Steady  steadyReport  `json:"steady"`
	Members membersReport `json:"members"`
	Counts  struct {
		Topic   string            `json:"topic"`
		Latency latency           `json:"latency"`
		CPU     map[string]cpuUse `json:"cpu"`
	} `json:"counts"`
	Churn  *churnReport `json:"churn,omitempty"`
	Server struct {
		RSSBeforeMB float64 `json:"rss_before_mb"`
		RSSOpenMB   float64 `json:"rss_open_mb"`
	} `json:"server"`
	Redis struct {
		UsedBefore     int64 `json:"used_memory_before"`
		UsedOpen       int64 `json:"used_memory_open"`
		BytesPerStream int64 `json:"bytes_per_stream"`
	} `json:"redis"`
	// Dropped counts streams the server ended; PlainStreamBytes is what
	// the streams that are not watchers received after their first
	// event (pings, and any join or leave pushed to them).
	Dropped          int64    `json:"dropped"`
	PlainStreamBytes int64    `json:"plain_stream_bytes"`
	Errors           []string `json:"errors,omitempty"`
}

// openReport is the opening of every stream.
type openReport struct {
	Opened int               `json:"opened"`
	Failed int               `json:"failed"`
	Errors map[string]int    `json:"errors,omitempty"`
	WallMS float64           `json:"wall_ms"`
	CPU    map[string]cpuUse `json:"cpu"`
}

// convergence is the wait for exact counts on every topic, from the last
// stream's answer (or close); Events are the watchers' join or leave
// events that presload expected, timed from each stream's connect (or
// close).
type convergence struct {
	Exact  bool       `json:"exact"`
	MS     float64    `json:"ms"`
	Polls  int        `json:"polls"`
	Events eventStats `json:"events"`
	Want   []counts   `json:"want,omitempty"`
	Got    []counts   `json:"got,omitempty"`
	Error  string     `json:"error,omitempty"`
}

// eventStats times expected events; Missed never arrived in time.
type eventStats struct {
	Latency latency `json:"latency"`
	Missed  int     `json:"missed"`
}

// steadyReport is the CPU with every stream open and nothing asked.
type steadyReport struct {
	Seconds float64           `json:"seconds"`
	CPU     map[string]cpuUse `json:"cpu"`
}

// membersReport is the members snapshot of the big topic.
type membersReport struct {
	Topic   string            `json:"topic"`
	Limit   int               `json:"limit"`
	Listed  int               `json:"listed"`
	Bytes   int               `json:"bytes"`
	Note    string            `json:"note"`
	Latency latency           `json:"latency"`
	CPU     map[string]cpuUse `json:"cpu"`
}

// churnReport is the join and leave load.
type churnReport struct {
	Streams    int               `json:"streams"`
	Rate       float64           `json:"rate_per_s"`
	Leave      convergence       `json:"leave"`
	Join       convergence       `json:"join"`
	JoinFailed int               `json:"join_failed"`
	CPU        map[string]cpuUse `json:"cpu"`
}
