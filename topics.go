package ssevents

import "strings"

// Topic joins a kind and ids into a namespaced topic name:
// Topic("invoice", "i001") is "invoice:i001", Topic("workspace", "acme",
// "comments") is "workspace:acme:comments". It is fastapi-sse-events'
// TopicBuilder.custom; plain strings work just as well.
func Topic(kind string, ids ...string) string {
	if len(ids) == 0 {
		return kind
	}
	return kind + ":" + strings.Join(ids, ":")
}

// UserTopic returns "user:<id>", for notifications to one user.
func UserTopic(id string) string { return Topic("user", id) }

// WorkspaceTopic returns "workspace:<id>", for everything in a workspace.
func WorkspaceTopic(id string) string { return Topic("workspace", id) }

// CommentTopic returns "comment:<id>".
func CommentTopic(id string) string { return Topic("comment", id) }

// TaskTopic returns "task:<id>".
func TaskTopic(id string) string { return Topic("task", id) }

// TicketTopic returns "ticket:<id>".
func TicketTopic(id string) string { return Topic("ticket", id) }

// SplitTopics splits a comma-separated list of topics (or topic patterns),
// trimming blanks and dropping empty items: " a, ,b" is ["a" "b"].
func SplitTopics(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
