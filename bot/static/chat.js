// The web chat: sends what the resident types or presses to /api/chat and shows the replies.
// No third-party code; the conversation itself lives on the server.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var lang = log.getAttribute("data-lang");
  var busy = false;

  function add(cls, text) {
    var div = document.createElement("div");
    div.className = "msg " + cls;
    div.textContent = text;
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  function disableOldButtons() {
    var old = log.querySelectorAll(".buttons button");
    for (var i = 0; i < old.length; i++) { old[i].disabled = true; }
  }

  function render(reply) {
    var div = add("bot", reply.text);
    if (reply.receipt) {
      var box = document.createElement("div");
      box.className = "receipt";
      box.textContent = reply.receipt + "\n" + reply.passphrase;
      div.appendChild(box);
      // On screen: the server may forget it. If this is lost, the next message shows it again.
      fetch("/api/chat/receipt", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ receipt: reply.receipt })
      }).catch(function () {});
    }
    if (reply.buttons && reply.buttons.length) {
      var row = document.createElement("div");
      row.className = "buttons";
      reply.buttons.forEach(function (b) {
        var btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.label;
        btn.addEventListener("click", function () { send({ button: b.payload }, b.label); });
        row.appendChild(btn);
      });
      log.appendChild(row);
      log.scrollTop = log.scrollHeight;
    }
  }

  // A new chat first answers the server's puzzle (bot/admission.py): the first nonce for which
  // SHA-256(challenge ":" nonce) starts with `bits` zero bits, found with the browser's Web Crypto.
  function zeroBits(bytes) {
    var n = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { n += 8; continue; }
      for (var b = 7; b >= 0 && !(bytes[i] & (1 << b)); b--) { n++; }
      return n;
    }
    return n;
  }

  function solve(challenge, bits) {
    var enc = new TextEncoder();
    var prefix = challenge + ":";
    var BATCH = 256;
    function round(base) {
      var jobs = [];
      for (var i = 0; i < BATCH; i++) {
        jobs.push(crypto.subtle.digest("SHA-256", enc.encode(prefix + (base + i))));
      }
      return Promise.all(jobs).then(function (digests) {
        for (var j = 0; j < digests.length; j++) {
          if (zeroBits(new Uint8Array(digests[j])) >= bits) { return String(base + j); }
        }
        return round(base + BATCH);
      });
    }
    return round(0);
  }

  // The replies in an answer, or an error carrying them (a 429 or 413 explains itself in words).
  function replies(res) {
    return res.json().catch(function () { return null; }).then(function (data) {
      if (res.ok && data && data.replies) { return data; }
      var err = new Error("HTTP " + res.status);
      err.data = data;
      throw err;
    });
  }

  function post(body) {
    return fetch("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body)
    }).then(replies);
  }

  // Sends; when the server asks a new chat for its proof of work, solves the puzzle and sends again.
  function postWithProof(body, tries) {
    return post(body).then(function (data) {
      if (!data.challenge || tries > 2) { return data; }
      if (!(window.crypto && crypto.subtle)) {
        var err = new Error("no Web Crypto");
        err.data = { replies: [{ text: log.getAttribute("data-insecure") }] };
        throw err;
      }
      var note = add("status", data.message);
      return solve(data.challenge, data.bits).then(function (nonce) {
        if (note.parentNode) { note.parentNode.removeChild(note); }
        body.proof = { challenge: data.challenge, nonce: nonce };
        return postWithProof(body, tries + 1);
      });
    });
  }

  function failed(err) {
    if (err && err.data && err.data.replies && err.data.replies.length) {
      err.data.replies.forEach(function (r) { add("error", r.text); });
    } else {
      add("error", log.getAttribute("data-error"));
    }
  }

  function send(body, shown) {
    if (busy) { return; }
    busy = true;
    var mine = shown ? add("me", shown) : null;
    disableOldButtons();
    body.lang = lang;
    postWithProof(body, 0).then(function (data) {
      data.replies.forEach(render);
    }).catch(function (err) {
      failed(err);
      // Not received: what was typed goes back into the box, to be sent again.
      if (body.text) {
        if (mine && mine.parentNode) { mine.parentNode.removeChild(mine); }
        if (!input.value) { input.value = body.text; }
      }
    }).then(function () { busy = false; input.focus(); });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value;
    if (!text.trim() || busy) { return; }
    input.value = "";
    send({ text: text }, text);
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  var fileInput = document.getElementById("file");
  fileInput.addEventListener("change", function () {
    var file = fileInput.files[0];
    if (!file || busy) { return; }
    busy = true;
    add("me", "📎 " + file.name);
    disableOldButtons();
    var form = new FormData();
    form.append("file", file);
    fetch("/api/chat/upload?lang=" + encodeURIComponent(lang), { method: "POST", credentials: "same-origin", body: form })
      .then(replies)
      .then(function (data) { data.replies.forEach(render); })
      .catch(failed)
      .then(function () { busy = false; fileInput.value = ""; });
  });
  send({ resume: true }, null);
})();
