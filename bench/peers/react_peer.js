// Peer (f): React 19 renderToPipeableStream + Suspense on Node's http server.
// Usage: node bench/peers/react_peer.js PORT   (React from bench/.node, installed by the suite)
// Same page as the Python peers: one Suspense boundary per section, each section's data
// promise created when the request arrives (all at once), resolved after its latency.
"use strict";
const http = require("http");
const path = require("path");
const fs = require("fs");

const root = path.resolve(__dirname, "..");
const modules = path.join(root, ".node", "node_modules");
const React = require(path.join(modules, "react"));
const { renderToPipeableStream } = require(path.join(modules, "react-dom", "server.node"));
const { createElement: h, Suspense, use } = React;

const scenarios = JSON.parse(fs.readFileSync(path.join(root, "scenarios.json"), "utf8"));
const pageCfg = scenarios.page;
const TITLE = pageCfg.title;
const ITEMS = pageCfg.items_per_section;
const MARKER = pageCfg.marker_attr;

function latencies(name) {
  const s = scenarios[name];
  if (s.latencies_ms) return s.latencies_ms.slice();
  if (name === "S3") return [Number(process.env.BENCH_S3_LATENCY_MS || s.latency_ms)];
  return new Array(s.sections).fill(s.latency_ms);
}
const ROUTES = {};
for (const name of ["S1", "S2", "S3"]) ROUTES[scenarios[name].path] = latencies(name);

function items(i) {
  const rows = [];
  for (let j = 0; j < ITEMS; j++) {
    rows.push({ id: i * 100 + j, name: `Widget ${i}.${j} <${TITLE.slice(0, 4)}>`, price: 10 + i + j / 4 });
  }
  return rows;
}

// The data call: a timer for a latency. For latency 0 the default is the next event-loop
// turn (setImmediate, as asyncio.sleep(0) / trio.sleep(0) in the Python peers);
// REACT_ZERO=microtask resolves it at once instead (Promise.resolve, React's best case:
// every boundary completes in the same work loop and leaves in one flush).
const ZERO = process.env.REACT_ZERO || "macrotask";
function fetchSection(i, ms) {
  if (ms <= 0 && ZERO === "microtask") return Promise.resolve(items(i));
  return new Promise((resolve) => {
    if (ms > 0) setTimeout(() => resolve(items(i)), ms);
    else setImmediate(() => resolve(items(i)));
  });
}

function Section({ i, data }) {
  const rows = use(data);
  return h(
    "section",
    { [MARKER]: String(i) },
    h("h2", null, `Section ${i}`),
    h(
      "ul",
      null,
      rows.map((r) =>
        h("li", { key: r.id }, h("a", { href: `/item/${r.id}` }, r.name), " ",
          h("span", { className: "price" }, "$" + r.price.toFixed(2)))
      )
    )
  );
}

function Page({ sections }) {
  return h(
    "html",
    { lang: "en" },
    h("head", null, h("meta", { charSet: "utf-8" }), h("title", null, TITLE),
      h("link", { rel: "stylesheet", href: pageCfg.stylesheet })),
    h(
      "body",
      null,
      h("h1", null, TITLE),
      sections.map((data, i) =>
        h(Suspense, { key: i, fallback: h("div", { className: "slot" }, pageCfg.fallback_text) },
          h(Section, { i, data }))
      )
    )
  );
}

const server = http.createServer((req, res) => {
  const lat = ROUTES[req.url];
  if (!lat) {
    res.statusCode = 404;
    res.end("not found");
    return;
  }
  const sections = lat.map((ms, i) => fetchSection(i, ms));
  let failed = false;
  const stream = renderToPipeableStream(h(Page, { sections }), {
    onShellReady() {
      res.statusCode = failed ? 500 : 200;
      res.setHeader("content-type", "text/html; charset=utf-8");
      res.setHeader("cache-control", "no-store");
      stream.pipe(res);
    },
    onShellError() {
      res.statusCode = 500;
      res.end("shell error");
    },
    onError(err) {
      failed = true;
      console.error(err);
    },
  });
  res.on("close", () => stream.abort());
});

const port = Number(process.argv[2] || 8000);
server.listen({ port, host: "127.0.0.1", backlog: 16384 }, () => {
  console.log(`react peer on 127.0.0.1:${port} (react ${React.version}, zero latency: ${ZERO})`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 2000).unref());
