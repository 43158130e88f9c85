(function () {
  // Forms that post an action to this page go by fetch, and what the action changed streams
  // back into the page ($E.stream). Not a form with data-engine-reload, not another page's.
  var d = document, plain = new WeakSet();
  d.addEventListener("submit", function (e) {
    var f = e.target, s = e.submitter, u, body;
    if (e.defaultPrevented || plain.has(f) || f.hasAttribute("data-engine-reload")) return;
    if (((s && s.getAttribute("formmethod")) || f.getAttribute("method") || "").toLowerCase() != "post") return;
    u = new URL((s && s.getAttribute("formaction")) || f.getAttribute("action") || "", location.href);
    if (u.origin != location.origin || u.pathname != location.pathname) return;
    body = new FormData(f, s);
    if (!body.has("_action") && !u.searchParams.has("_action")) return;
    e.preventDefault();
    fetch(u, {
      method: "POST",
      body: new URLSearchParams(body),
      credentials: "same-origin",
      redirect: "manual",
      headers: { "X-Engine-Request": "action", "X-Engine-Token": body.get("_token") || "" }
    }).then(function (r) {
      var to = r.headers.get("X-Engine-Location");
      if (to) return $E.navigate ? $E.navigate(to) : location.assign(to);
      if (r.status == 200 || r.status == 422) return $E.stream(r, true);
      throw Error("HTTP " + r.status);
    }).catch(function (err) {
      // Never stuck: the form goes again without the runtime, and the page that answers
      // (the error, or a login) is the browser's to show.
      console.error("engine: action by fetch failed (" + err.message + "); submitting the form");
      plain.add(f);
      f.requestSubmit(s && s.form == f ? s : null);
    });
  });
})();
