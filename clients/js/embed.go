// Package js holds @ssevents/client, the browser and Node client, as the
// ES module the hub serves at /ssevents.js. The module itself is
// ssevents.js in this directory (with ssevents.d.ts, package.json and its
// node tests); this package only embeds it, so that `go build` needs no
// npm.
package js

import _ "embed"

// Module is ssevents.js, the client's ES module, exactly as committed.
//
//go:embed ssevents.js
var Module []byte

// ContentType is the media type to serve Module with.
const ContentType = "text/javascript; charset=utf-8"
