(function () {
  var d = document;
  // A slot marker, as [kind, name]: a processing instruction where the browser keeps
  // them, else the bogus comment ("?start name=...") that other browsers make of them.
  function mark(n) {
    var kind, rest, m;
    if (n.nodeType == 7) { kind = n.target; rest = n.data; }
    else if (n.nodeType == 8 && n.data.charAt(0) == "?") {
      m = /^\?(\w+)([\s\S]*?)\??$/.exec(n.data);
      if (!m) return;
      kind = m[1]; rest = m[2];
    } else return;
    m = /name\s*=\s*["']([^"']*)["']/.exec(rest);
    return [kind, m ? m[1] : ""];
  }
  function find(name) {
    var w = d.createTreeWalker(d, 192), n, k;
    while ((n = w.nextNode())) {
      k = mark(n);
      if (k && k[1] == name && (k[0] == "start" || k[0] == "marker")) return n;
    }
  }
  // The nodes between a start marker and its end marker, and the end marker.
  function range(start) {
    var nodes = [], n = start.nextSibling, k, depth = 0;
    for (; n; n = n.nextSibling) {
      k = mark(n);
      if (k && k[0] == "start") depth++;
      if (k && k[0] == "end") { if (!depth) break; depth--; }
      nodes.push(n);
    }
    return [nodes, n];
  }
  // Put a template's content in place of slot `name`, as native application does:
  // the content carries the slot's markers again, so the old ones go. With `update`,
  // morph the live nodes instead (a refresh keeps focus, typed values and scroll).
  function place(content, name, update) {
    var s = find(name), r, nu, k;
    if (!s) return;
    if (mark(s)[0] == "marker") return s.parentNode.replaceChild(content, s);
    r = range(s);
    if (update) {
      // The kept start marker is news again: announce() fires the slot once more.
      seen.delete(s);
      nu = [].slice.call(content.childNodes);
      k = nu.length && mark(nu[0]);
      if (k && k[0] == "start") nu = nu.slice(1, -1);
      return children(s.parentNode, r[0], nu, r[1]);
    }
    s.parentNode.insertBefore(content, s);
    r[0].concat([s, r[1]]).forEach(function (n) { if (n) n.remove(); });
  }
  function same(a, b) {
    return a.nodeType == b.nodeType && a.nodeName == b.nodeName && (a.id || "") == (b.id || "");
  }
  function move(parent, node, ref) {
    if (node == ref) return;
    if (parent.moveBefore) parent.moveBefore(node, ref); else parent.insertBefore(node, ref);
  }
  // Morph live node a into b, keeping a (and so its focus, typed value and scroll).
  function morph(a, b) {
    if (a.nodeType != 1) { if (a.data !== b.data) a.data = b.data; return; }
    var i, at = b.attributes, live = a == d.activeElement;
    for (i = 0; i < at.length; i++)
      if (a.getAttribute(at[i].name) !== at[i].value) a.setAttribute(at[i].name, at[i].value);
    for (i = a.attributes.length - 1; i >= 0; i--)
      if (!b.hasAttribute(a.attributes[i].name)) a.removeAttribute(a.attributes[i].name);
    if (!live && "value" in b && a.value !== b.value) a.value = b.value;
    if (!live && "checked" in b) a.checked = b.checked;
    children(a, [].slice.call(a.childNodes), [].slice.call((b.content || b).childNodes), null);
  }
  // Morph the live nodes `old` (children of parent, before `end`) into `nu`.
  function children(parent, old, nu, end) {
    var ids = {}, i, j, m, nb;
    old.forEach(function (n) { if (n.id) ids[n.id] = n; });
    for (i = 0; i < nu.length; i++) {
      nb = nu[i];
      m = nb.id && ids[nb.id];
      if (m && !same(m, nb)) m = null;
      for (j = 0; !m && j < old.length; j++) if (!old[j].id && same(old[j], nb)) m = old[j];
      if (m) {
        old.splice(old.indexOf(m), 1);
        move(parent, m, old[0] || end);
        morph(m, nb);
      } else parent.insertBefore(nb, old[0] || end);
    }
    old.forEach(function (n) { n.remove(); });
  }
  function fire(node, type, detail) {
    node.dispatchEvent(new CustomEvent("engine:" + type, { bubbles: true, detail: detail }));
  }
  // Announce what landed since the last call: each new complete slot range (by node
  // identity: applying a template, natively or not, brings new markers) and each new
  // data island. Slots already there when the runtime starts are not news, nor are the
  // slots inside a range announced now (a child's fallback, or a child that came along).
  var seen = new WeakSet();
  function announce(quiet) {
    var w = d.createTreeWalker(d, 192), n, k, e, i, end, inside;
    bind();
    while ((n = w.nextNode())) {
      if (n == inside) inside = null;
      k = mark(n);
      if (!k || k[0] != "start" || seen.has(n)) continue;
      end = range(n)[1];
      if (!end && !quiet && !inside) continue;
      seen.add(n);
      if (quiet || inside) continue;
      fire(n.parentNode, "fragment", { target: k[1] });
      inside = end;
    }
    e = d.querySelectorAll('script[type="application/json"][data-query]');
    for (i = 0; i < e.length; i++) {
      if (seen.has(e[i])) continue;
      seen.add(e[i]);
      fire(e[i], "data", { query: e[i].getAttribute("data-query") });
    }
  }
  // Bindings (docs/client.md), applied after each landing to every bound element, so also
  // to those that just arrived, from the current data. data-bind holds items split by
  // spaces: "q.path" sets the text, "name:q.path" an attribute, ".name:q.path" toggles a
  // class. A path that leads nowhere leaves the element as the server rendered it. Never
  // a script or style element, an on* attribute, style, srcdoc or an SVG animation value;
  // a URL attribute takes only http(s), mailto or relative URLs (as the server's safe_url).
  function bind() {
    var got = Object.create(null), e = d.querySelectorAll("[data-bind]"), i;
    function at(p) {
      var k = p.split("."), q = k.shift(), v = q in got ? got[q] : (got[q] = $E.data(q));
      k.forEach(function (n) { v = v != null && {}.hasOwnProperty.call(v, n) ? v[n] : void 0; });
      return v;
    }
    for (i = 0; i < e.length; i++) e[i].getAttribute("data-bind").split(/\s+/).forEach(function (p) {
      var el = this, c = p.lastIndexOf(":"), n = p.slice(0, c), v = at(p.slice(c + 1));
      if (v === void 0 || /^(script|style)$/.test(el.localName)) return;
      if (c < 0) {
        v = v == null ? "" : "" + v;
        if (v != el.textContent) el.textContent = v;
      } else if (n[0] == "." && n[1]) el.classList.toggle(n.slice(1), !!v && v.length !== 0);
      else if (!/^[a-z][\w.:-]*$/i.test(n) || /^on|^(style|srcdoc|attributename|values|from|to|by)$/i.test(n));
      else if (v == null || v === !1) el.removeAttribute(n);
      else {
        v = v === !0 ? "" : "" + v;
        c = /^([a-z][\w+.-]*):/i.exec(v.replace(/^[\0- ]+|[\t\n\r]/g, ""));
        if (c && !/^(https?|mailto)$/i.test(c[1]) && /^(href|src|action|formaction|xlink:href|data)$/i.test(n)) v = "about:blank#blocked";
        if (el.getAttribute(n) !== v) el.setAttribute(n, v);
      }
    }, e[i]);
  }
  // Where the browser applies <template for> itself, the swap script only announces.
  var native = "htmlFor" in HTMLTemplateElement.prototype;
  function $E() {
    var c = d.currentScript, ts, i;
    if (c) c.remove();
    if (!native) {
      ts = d.querySelectorAll("template[for]");
      for (i = 0; i < ts.length; i++) {
        place(ts[i].content, ts[i].getAttribute("for"));
        ts[i].remove();
      }
    }
    announce();
  }
  function islands(name) {
    return d.querySelectorAll('script[type="application/json"][data-query="' + CSS.escape(name) + '"]');
  }
  // Exposed query data: the value, or the list of batches of a batched query.
  $E.data = function (name) {
    var e = islands(name), r = [], i;
    for (i = 0; i < e.length; i++) r.push(JSON.parse(e[i].textContent));
    if (!e.length) return;
    return e[0].hasAttribute("data-batch") ? r : r[r.length - 1];
  };
  // Subscribe to query `name`: fn(value) after each arrival of its data. Returns the unsubscribe.
  $E.on = function (name, fn) {
    function h(e) { if (e.detail.query == name) fn($E.data(name)); }
    d.addEventListener("engine:data", h);
    return function () { d.removeEventListener("engine:data", h); };
  };
  // Apply one write of a streamed response: its data islands replace the older ones of
  // their query (a later batch joins them), its stylesheets join the head, its templates
  // fill their slots (morphed with `up`), then what landed is announced.
  function write(html, up) {
    var box = d.createElement("template"), c, e, i, h;
    box.innerHTML = html;
    c = box.content;
    e = c.querySelectorAll('script[type="application/json"][data-query]');
    for (i = 0; i < e.length; i++) {
      if ((e[i].getAttribute("data-batch") || "0") == "0")
        islands(e[i].getAttribute("data-query")).forEach(function (n) { n.remove(); });
      d.body.appendChild(e[i]);
    }
    e = c.querySelectorAll('link[rel="stylesheet"]');
    for (i = 0; i < e.length; i++) {
      h = CSS.escape(e[i].getAttribute("href"));
      if (!d.querySelector('link[href="' + h + '"]')) d.head.appendChild(e[i]);
    }
    e = c.querySelectorAll("template[for]");
    for (i = 0; i < e.length; i++) place(e[i].content, e[i].getAttribute("for"), up);
    announce();
  }
  // Read a fetch Response as it streams and apply each write (ended by the swap script)
  // as soon as it is complete; resolves when the body ends.
  $E.stream = function (response, up) {
    var reader = response.body.getReader(), text = new TextDecoder(), buf = "";
    function next() {
      return reader.read().then(function (r) {
        var swap = /<[s]cript[^>]*>\$E\(\)<\/script>/g, at = 0, m;
        buf += text.decode(r.value, { stream: !r.done });
        while ((m = swap.exec(buf))) { write(buf.slice(at, m.index), up); at = swap.lastIndex; }
        buf = buf.slice(at);
        if (!r.done) return next();
        if (buf.trim()) write(buf, up);
      });
    }
    return next();
  };
  // Fetch one fragment again and morph its slot in place.
  $E.refresh = function (name, url) {
    var u = new URL(url || location.href, location.href);
    u.searchParams.set("fragment", name);
    return fetch(u, { headers: { accept: "text/html" }, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw Error("refresh " + name + ": HTTP " + r.status);
        return $E.stream(r, true);
      });
  };
  window.$E = $E;
  announce(1);
})();
