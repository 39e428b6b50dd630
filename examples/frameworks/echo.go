package main

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// echoRouter mounts the App in echo with echo.WrapHandler. The message
// handler is echo-native and publishes with app.Publish.
func echoRouter(app *ssevents.App) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover())
	for _, p := range appPaths {
		e.Any(p, echo.WrapHandler(app))
	}
	e.GET("/", func(c echo.Context) error {
		writePage(c.Response(), "echo")
		return nil
	})
	e.POST("/rooms/:room/messages", func(c echo.Context) error {
		in, err := readMessageInput(c.Response(), c.Request())
		if err != nil {
			return c.JSON(http.StatusBadRequest, sse.ErrorBody{Error: err.Error()})
		}
		msg, err := newMessage(c.Param("room"), in)
		if err != nil {
			return c.JSON(http.StatusBadRequest, sse.ErrorBody{Error: err.Error()})
		}
		if _, err := app.Publish(c.Request().Context(), roomTopic(msg.Room), eventMessage, msg); err != nil {
			ssevents.WriteError(c.Response(), c.Request(), nil, err)
			return nil
		}
		return c.JSON(http.StatusCreated, msg)
	})
	return e
}
