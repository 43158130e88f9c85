(function () {
  // Streamed navigation (docs/navigation.md): same-origin links and GET forms fetch the
  // next page with the layouts this document holds; the server answers with what lies below
  // the innermost shared layout, in the page's own wire vocabulary, and $E.stream applies it.
  var d = document, E = window.$E, h = history, at = d.currentScript;
  var all = at && at.getAttribute("data-navigation") == "all";
  var SWAP = /<[s]cript[^>]*>\$E\(\)<\/script>/, LAYOUT = "engine-content-", HEAD = "engine-head-";
  var SCRIPTS = 'script:not([type="application/json"])';
  var ASSETS = SCRIPTS + ',link[rel~="stylesheet"]';
  var busy, pos = {}, key, shown = here(location.href), seq = 0;
  if (!E || !E.stream || !h.pushState || !window.fetch || !window.ReadableStream) return;
  function here(url) { return url.split("#")[0]; }
  // The name of a range's start marker (a processing instruction, or the bogus comment
  // browsers without them make of it).
  function named(n) {
    var t = n.nodeType == 7 ? n.target + " " + n.data : n.data;
    var m = /^\??start\s+name\s*=\s*["']([^"']*)["']/.exec(t);
    return m && m[1];
  }
  function starts() {
    var w = d.createTreeWalker(d, 192), n, out = [], name;
    while ((n = w.nextNode())) if ((name = named(n))) out.push([name, n]);
    return out;
  }
  // The ids of the layouts this document holds, outermost first.
  function layouts() {
    return starts().map(function (s) { return s[0]; }).filter(function (s) {
      return s.indexOf(LAYOUT) == 0;
    }).map(function (s) { return s.slice(LAYOUT.length); });
  }
  // The elements of the live range `name` (its children and theirs).
  function inside(name) {
    var s = starts().filter(function (x) { return x[0] == name; })[0], n, depth = 0, out = [];
    for (n = s && s[1].nextSibling; n; n = n.nextSibling) {
      if (n.nodeType != 1) {
        if (/^\??end/.test(n.nodeType == 7 ? n.target : n.data) && !depth--) break;
        if (named(n)) depth++;
        continue;
      }
      if (n.matches(ASSETS)) out.push(n);
      out.push.apply(out, n.querySelectorAll(ASSETS));
    }
    return out;
  }
  function assets(nodes) {
    return nodes.map(function (n) {
      return n.getAttribute("src") || n.getAttribute("href") || n.textContent;
    }).sort().join("\n");
  }
  // Whether the user opted this element in: a data-engine-nav ancestor (nearest wins).
  function wanted(el) {
    var m = el.closest("[data-engine-nav]"), v = m && m.getAttribute("data-engine-nav");
    return m ? v != "off" && v != "false" : all;
  }
  function full(url, replace) {
    if (busy) busy.abort();
    if (replace) location.replace(url); else location.assign(url);
  }
  // Read up to the end of the first write; the rest stays in the reader.
  function first(reader) {
    var dec = new TextDecoder(), buf = "";
    function more() {
      return reader.read().then(function (r) {
        var m;
        if (!r.done) buf += dec.decode(r.value, { stream: true });
        m = SWAP.exec(buf);
        if (!m && !r.done) return more();
        var end = m ? m.index + m[0].length : buf.length;
        return [buf.slice(0, end), buf.slice(end), dec];
      });
    }
    return more();
  }
  // The rest of the body as a Response for $E.stream, decoded by the same decoder.
  function rest(text, reader, dec) {
    var enc = new TextEncoder();
    return new Response(new ReadableStream({
      start: function (c) { if (text) c.enqueue(enc.encode(text)); },
      pull: function (c) {
        return reader.read().then(function (r) {
          if (!r.done) return c.enqueue(enc.encode(dec.decode(r.value, { stream: true })));
          if ((r = dec.decode())) c.enqueue(enc.encode(r));
          c.close();
        });
      },
      cancel: function () { return reader.cancel(); }
    }), { headers: { "content-type": "text/html" } });
  }
  function remember() {
    if (key) pos[key] = [scrollX, scrollY];
  }
  function entry(state) {
    key = "e" + Date.now() + "-" + seq++;
    return Object.assign({}, state, { engine: key });
  }
  // Scroll and focus once the new page is in place: a saved position (back/forward), the
  // URL's fragment, or the top; focus goes to the new content (or its main landmark).
  function land(url, scroll, push) {
    var id = new URL(url).hash.slice(1), target = id && d.getElementById(decodeURIComponent(id));
    if (scroll) scrollTo(scroll[0], scroll[1]);
    else if (target) target.scrollIntoView();
    else scrollTo(0, 0);
    if (!push) return;
    var f = d.querySelector("[autofocus]") || d.querySelector("main,[role=main]") || d.body;
    if (f.tabIndex < 0 && !f.hasAttribute("tabindex")) f.setAttribute("tabindex", "-1");
    f.focus({ preventScroll: true });
  }
  function go(url, push, scroll) {
    var ids = layouts(), ctl, u = new URL(url, location.href);
    if (u.origin != location.origin || !ids.length) return Promise.resolve(full(u.href, !push));
    if (busy) busy.abort();
    busy = ctl = new AbortController();
    url = u.href;
    return fetch(url, {
      headers: { "X-Engine-Request": "navigate", "X-Engine-Layout": ids.join(" "), accept: "text/html" },
      credentials: "same-origin",
      signal: ctl.signal
    }).then(function (r) {
      var held = r.headers.get("X-Engine-Layout"), reader;
      if (!r.ok || !/^text\/html/.test(r.headers.get("content-type") || "") || !held ||
          ids.indexOf(held) < 0 || !r.body) throw Error("full");
      if (r.redirected) url = r.url;
      reader = r.body.getReader();
      return first(reader).then(function (got) {
        var box = d.createElement("template"), head, content;
        box.innerHTML = got[0];
        head = box.content.querySelector('template[for="' + HEAD + held + '"]');
        content = box.content.querySelector('template[for="' + LAYOUT + held + '"]');
        if (!head || !content || content.content.querySelector(SCRIPTS) ||
            assets([].slice.call(head.content.querySelectorAll(ASSETS))) != assets(inside(HEAD + held)))
          throw Error("full");
        if (busy != ctl) return;
        all = r.headers.get("X-Engine-Navigation") == "all";
        remember();
        if (push) {
          h.replaceState(Object.assign({}, h.state, { scroll: [scrollX, scrollY] }), "");
          h.pushState(entry(null), "", url);
        }
        shown = here(url);
        function update() {
          return E.stream(new Response(got[0])).then(function () { land(url, scroll, push); });
        }
        var vt = d.startViewTransition && d.startViewTransition(update);
        return (vt ? vt.updateCallbackDone : update()).then(function () {
          return E.stream(rest(got[1], reader, got[2]));
        }).then(function () {
          if (scroll && busy == ctl) scrollTo(scroll[0], scroll[1]);
        });
      });
    }).catch(function () {
      if (busy == ctl && !ctl.signal.aborted) full(url, !push);
    });
  }
  d.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[href]"), u;
    if (!a || e.defaultPrevented || e.button || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey)
      return;
    if ((a.target && a.target != "_self") || a.hasAttribute("download") || !wanted(a)) return;
    u = new URL(a.getAttribute("href"), location.href);
    if (u.origin != location.origin || (u.hash && here(u.href) == here(location.href))) return;
    e.preventDefault();
    go(u.href, true);
  });
  d.addEventListener("submit", function (e) {
    var f = e.target, s = e.submitter, u, q;
    var method = (s && s.getAttribute("formmethod")) || f.getAttribute("method") || "get";
    var target = (s && s.getAttribute("formtarget")) || f.getAttribute("target");
    if (e.defaultPrevented || method.toLowerCase() != "get" || (target && target != "_self") ||
        !wanted(s || f)) return;
    u = new URL(s && s.hasAttribute("formaction") ? s.formAction : f.action, location.href);
    try { q = new URLSearchParams(new FormData(f, s)); } catch (x) { return; }
    if (u.origin != location.origin) return;
    u.search = q.toString();
    e.preventDefault();
    go(u.href, true);
  });
  // Back and forward: the entry's page again, at its scroll position. Moving between the
  // fragments (#) of the page shown is the browser's.
  addEventListener("popstate", function (e) {
    if (here(location.href) == shown) return;
    remember();
    key = e.state && e.state.engine;
    go(location.href, false, (key && pos[key]) || (e.state && e.state.scroll) || [0, 0]);
  });
  h.scrollRestoration = "manual";
  addEventListener("pagehide", function () { h.scrollRestoration = "auto"; });
  h.replaceState(entry(h.state), "");
  E.navigate = function (url) { return go(url, true); };
})();
