"use strict";
(function () {
  var view = document.getElementById("tree");
  var status = document.getElementById("status");
  var banner = document.getElementById("banner");

  function span(cls, text) {
    var s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    return s;
  }

  function when(iso) {
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function render(n) {
    var li = document.createElement("li");
    li.className = "node";
    li.setAttribute("data-path", n.path);
    li.setAttribute("data-kind", n.kind);
    li.setAttribute("data-state", n.state);
    li.setAttribute("data-ready", String(n.ready));
    li.setAttribute("data-restarts", String(n.restarts));
    var line = document.createElement("div");
    line.className = "line";
    line.appendChild(span("name", n.name));
    line.appendChild(span("kind", n.restart ? n.kind + ", " + n.restart : n.kind));
    line.appendChild(span("state", n.state));
    if (n.waiting) {
      li.setAttribute("data-waiting", "true");
      line.appendChild(span("waiting", "the shutdown waits for it" + (n.goroutines ? ": " + n.goroutines +
        (n.goroutines === 1 ? " goroutine" : " goroutines") + " still running" : "")));
    }
    if (n.restart) { // the root is never restarted: its count means nothing
      line.appendChild(span("restarts", "restarts " + n.restarts));
    }
    if (n.intensity) {
      line.appendChild(span("detail intensity", "window " + n.intensity.restarts_in_window + "/" +
        n.intensity.max_restarts + " per " + n.intensity.period + ", " + n.strategy));
    }
    if (n.abandoned) {
      line.appendChild(span("exit abandoned", "abandoned " + n.abandoned));
    }
    if (n.started_at) {
      line.appendChild(span("detail started", "up since " + when(n.started_at)));
    }
    if (n.term) {
      li.setAttribute("data-term", n.term);
      line.appendChild(span("term", "leads " + n.term));
    }
    if (n.last_exit) {
      li.setAttribute("data-last-exit-kind", n.last_exit.kind);
      li.setAttribute("data-last-exit-requested", String(!!n.last_exit.requested));
      line.appendChild(span("exit", (n.last_exit.requested ? "stopped: " : "last exit: ") + n.last_exit.kind +
        (n.last_exit.reason ? " (" + n.last_exit.reason + ")" : "") + " at " + when(n.last_exit.at)));
    }
    li.appendChild(line);
    if (n.children && n.children.length) {
      var ul = document.createElement("ul");
      n.children.forEach(function (c) { ul.appendChild(render(c)); });
      li.appendChild(ul);
    }
    return li;
  }

  function showShutdown(sd) {
    if (!sd) {
      banner.hidden = true;
      banner.textContent = "";
      return;
    }
    var text = sd.stopping ? "Stopping" : "Shutdown requested: unready, still serving until the shutdown delay ends";
    if (sd.left) {
      text += " \u2014 " + sd.left + " left of the shutdown budget";
    }
    banner.textContent = text;
    banner.setAttribute("data-stopping", String(sd.stopping));
    banner.hidden = false;
  }

  function fail(msg) {
    status.textContent = "cannot load tree.json: " + msg;
    status.setAttribute("data-ok", "false");
  }

  function refresh() {
    fetch("tree.json", { cache: "no-store" }).then(function (r) {
      return r.json().then(function (doc) {
        if (!r.ok) { throw new Error(doc.error || r.statusText); }
        var ul = document.createElement("ul");
        ul.appendChild(render(doc.root));
        view.replaceChildren(ul);
        showShutdown(doc.shutdown);
        status.textContent = "updated " + when(doc.time);
        status.setAttribute("data-ok", "true");
      });
    }).catch(function (e) { fail(e.message); });
  }

  refresh();
  setInterval(refresh, 1000);
})();
