package main

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// ginRouter mounts the App in gin with gin.WrapH. The message handler is
// gin-native and publishes with app.Publish.
func ginRouter(app *ssevents.App) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	for _, p := range appPaths {
		// The SSE handler streams through gin's ResponseWriter, which
		// flushes and unwraps to the connection.
		r.Any(p, gin.WrapH(app))
	}
	r.GET("/", func(c *gin.Context) { writePage(c.Writer, "gin") })
	r.POST("/rooms/:room/messages", func(c *gin.Context) {
		in, err := readMessageInput(c.Writer, c.Request)
		if err != nil {
			c.JSON(http.StatusBadRequest, sse.ErrorBody{Error: err.Error()})
			return
		}
		msg, err := newMessage(c.Param("room"), in)
		if err != nil {
			c.JSON(http.StatusBadRequest, sse.ErrorBody{Error: err.Error()})
			return
		}
		if _, err := app.Publish(c.Request.Context(), roomTopic(msg.Room), eventMessage, msg); err != nil {
			ssevents.WriteError(c.Writer, c.Request, nil, err)
			return
		}
		c.JSON(http.StatusCreated, msg)
	})
	return r
}
