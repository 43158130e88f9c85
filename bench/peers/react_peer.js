// Peer (f): React 19 renderToPipeableStream + Suspense on Node's http server.
// Usage: node bench/peers/react_peer.js PORT   (React from bench/.node, installed by the suite)
// Same page as the Python peers: one Suspense boundary per section, each section's data
// promise created when the request arrives (all at once), resolved after its latency.
// S4 (/s4, the large page): streamed the same way (one Suspense boundary per section), or with
// REACT_RENDER=string, the data awaited first and the page rendered whole by renderToString.
// S5 (/s5, the S2 page cached and warm): every section's promise is kept across requests and
// already fulfilled (status/value set, as data libraries do), so `use` reads it synchronously.
"use strict";
const http = require("http");
const path = require("path");
const fs = require("fs");

const root = path.resolve(__dirname, "..");
const modules = path.join(root, ".node", "node_modules");
const React = require(path.join(modules, "react"));
const { renderToPipeableStream, renderToString } = require(
  path.join(modules, "react-dom", "server.node")
);
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

// ---- S4: the large page -------------------------------------------------------------
const S4 = scenarios.S4;
const S4_SECTIONS = 1 + S4.small_sections;
const COLUMNS = ["id", "name", "qty", "price"];
const hex = (n, width) => n.toString(16).padStart(width, "0");
// The same rows as bench/page.py's table_rows (every product below 2**53, so exact).
const ROW_IDS = [];
const ROW_NAMES = [];
for (let k = 0; k < S4.rows; k++) {
  ROW_IDS.push(
    `${hex((k * 2654435761) % 2 ** 32, 8)}-${hex(k % 65536, 4)}-4${hex(k % 4096, 3)}-` +
      `8${hex((k * 7) % 4096, 3)}-${hex((k * 40503 * 65537) % 2 ** 48, 12)}`
  );
  ROW_NAMES.push(`Part ${String(k).padStart(4, "0")} & Co <Mk ${k % 9}`);
}
function tableRows() {
  const rows = [];
  for (let k = 0; k < S4.rows; k++) {
    rows.push({ id: ROW_IDS[k], name: ROW_NAMES[k], qty: (k * 37) % 1000, price: 5 + (k % 400) / 4 });
  }
  return rows;
}
function nextTurn(make) {
  return new Promise((resolve) => setImmediate(() => resolve(make())));
}

function TableView({ rows }) {
  return h(
    "section",
    { [MARKER]: "0" },
    h("h2", null, "Parts"),
    h(
      "table",
      null,
      h("thead", null, h("tr", null, COLUMNS.map((c) => h("th", { key: c }, c)))),
      h(
        "tbody",
        null,
        rows.map((r) =>
          h("tr", { key: r.id }, h("td", null, r.id), h("td", null, r.name),
            h("td", null, String(r.qty)), h("td", null, r.price.toFixed(2)))
        )
      )
    )
  );
}
function SectionView({ i, rows }) {
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
function Table({ data }) {
  return h(TableView, { rows: use(data) });
}
function Document({ children }) {
  return h(
    "html",
    { lang: "en" },
    h("head", null, h("meta", { charSet: "utf-8" }), h("title", null, TITLE),
      h("link", { rel: "stylesheet", href: pageCfg.stylesheet })),
    h("body", null, h("h1", null, TITLE), children)
  );
}
function LargePage({ table, sections }) {
  const fallback = h("div", { className: "slot" }, pageCfg.fallback_text);
  return h(
    Document,
    null,
    h(Suspense, { fallback }, h(Table, { data: table })),
    sections.map((data, k) =>
      h(Suspense, { key: k + 1, fallback }, h(Section, { i: k + 1, data }))
    )
  );
}
async function largePageString() {
  const table = await nextTurn(tableRows); // the data calls, one after another
  const sections = [];
  for (let i = 1; i < S4_SECTIONS; i++) sections.push(await nextTurn(() => items(i)));
  return (
    "<!DOCTYPE html>" +
    renderToString(
      h(Document, null, h(TableView, { rows: table }),
        sections.map((rows, k) => h(SectionView, { key: k + 1, i: k + 1, rows })))
    )
  );
}

// ---- S5: the S2 page with its data cached and warm ------------------------------------
const S5 = scenarios.S5;
const CACHE = new Map();
function cachedSection(i) {
  let p = CACHE.get(i);
  if (!p) {
    const value = items(i);
    p = Promise.resolve(value);
    p.status = "fulfilled"; // what React itself sets once a thenable settles
    p.value = value;
    CACHE.set(i, p);
  }
  return p;
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

function sendWhole(res, html) {
  res.statusCode = 200;
  res.setHeader("content-type", "text/html; charset=utf-8");
  res.setHeader("cache-control", "no-store");
  res.end(html);
}

const RENDER = process.env.REACT_RENDER || "stream";
function element(url) {
  if (url === S4.path) {
    const sections = [];
    for (let i = 1; i < S4_SECTIONS; i++) sections.push(nextTurn(() => items(i)));
    return h(LargePage, { table: nextTurn(tableRows), sections });
  }
  if (url === S5.path) {
    const sections = [];
    for (let i = 0; i < S5.sections; i++) sections.push(cachedSection(i));
    return h(Page, { sections });
  }
  const lat = ROUTES[url];
  return lat ? h(Page, { sections: lat.map((ms, i) => fetchSection(i, ms)) }) : null;
}

const server = http.createServer((req, res) => {
  if (req.url === S4.path && RENDER === "string") {
    largePageString().then(
      (html) => sendWhole(res, html),
      (err) => {
        console.error(err);
        res.statusCode = 500;
        res.end("render error");
      }
    );
    return;
  }
  const root = element(req.url);
  if (!root) {
    res.statusCode = 404;
    res.end("not found");
    return;
  }
  let failed = false;
  const stream = renderToPipeableStream(root, {
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
