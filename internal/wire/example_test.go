package wire_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ssevents/ssevents/internal/wire"
)

func ExampleAppendEvent() {
	var buf []byte
	buf = wire.AppendRetry(buf, 3*time.Second)
	buf = wire.AppendEvent(buf, "1700000000000-0", "update", []byte(`{"n":1}`))
	// A payload's line breaks become separate data lines, so it cannot
	// inject fields or events.
	buf = wire.AppendEvent(buf, "", "", []byte("a\r\nevent: x\rdata: y"))
	buf = wire.AppendComment(buf, "heartbeat")
	fmt.Print(string(buf))
	// Output:
	// retry: 3000
	//
	// id: 1700000000000-0
	// event: update
	// data: {"n":1}
	//
	// data: a
	// data: event: x
	// data: data: y
	//
	// : heartbeat
}

func ExampleValidField() {
	for _, name := range []string{"update", "bad\nevent: x"} {
		fmt.Printf("%q: %v\n", name, wire.ValidField(name))
	}
	// Output:
	// "update": true
	// "bad\nevent: x": false
}

func ExampleParser() {
	stream := "retry: 2000\n\n" +
		": heartbeat\n" +
		"id: 41\r\nevent: update\r\ndata: {\"n\":1}\r\n\r\n" +
		"data: first line\rdata: second line\r\r" +
		"data: never finished\n"
	p := wire.NewParser(strings.NewReader(stream))
	for {
		ev, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("id=%q name=%q data=%q\n", ev.ID, ev.Name, ev.Data)
	}
	fmt.Println("retry:", p.Retry(), "last event id:", p.LastEventID())
	// Output:
	// id="41" name="update" data="{\"n\":1}"
	// id="41" name="message" data="first line\nsecond line"
	// retry: 2s last event id: 41
}
