// The size budget: at most 5 KB minified and gzipped. CI has no minifier
// (no npm install), so this measures an upper bound of it: the source
// without comment lines and indentation, gzipped (names stay long, so a
// minifier only makes it smaller; `npm run size` gives the exact figure).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

test("ssevents.js stays within 5 KB gzipped, comments and indentation aside", () => {
  const src = readFileSync(new URL("../ssevents.js", import.meta.url), "utf8");
  const code = src.split("\n").filter((l) => !/^\s*\/\//.test(l)).map((l) => l.trim()).join("\n");
  const size = gzipSync(code, { level: 9 }).length;
  assert.ok(size <= 5000, `${size} bytes gzipped without comments: over the 5 KB budget`);
});
