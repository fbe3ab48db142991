// The web chat: sends what the resident types or presses to /api/chat and shows the replies.
// No third-party code; the conversation itself lives on the server.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var lang = log.getAttribute("data-lang");
  var busy = false;
  var words = log.dataset;  // the page's own words, translated by the server
  var secretNext = false;  // the question asked wants a secret (the passphrase): its answer is shown masked
  var shownReceipts = {};
  var KEPT = "pa_receipt";  // the last receipt, kept in this tab (sessionStorage) so that a reload still shows it
  var TYPING_AFTER = 300;  // ms: an answer slower than this shows "the Front is answering"

  // -- the transcript ---------------------------------------------------------------------------

  // A message with its speaker named for screen readers (bot and resident differ by more than colour).
  function add(cls, text) {
    var div = document.createElement("div");
    div.className = "msg " + cls;
    var who = cls === "me" ? words.me : cls === "bot" ? words.bot : "";
    if (who) {
      var speaker = document.createElement("span");
      speaker.className = "visually-hidden";
      speaker.textContent = who + " ";
      div.appendChild(speaker);
    }
    div.appendChild(document.createTextNode(text));
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  function disableOldButtons() {
    var old = log.querySelectorAll(".buttons button");
    for (var i = 0; i < old.length; i++) { old[i].disabled = true; }
  }

  function render(reply) {
    if (reply.receipt && shownReceipts[reply.receipt]) {
      acknowledge(reply.receipt);  // already on this page (kept across a reload): not twice
      return;
    }
    var div = add("bot", reply.text);
    if (reply.receipt) { showReceipt(div, reply); }
    secretNext = !!reply.secret;
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

  // What the resident sent, as the transcript shows it: a passphrase masked once sent.
  function shownAs(text) {
    var mask = function (s) { return s.replace(/[^\s-]/g, "•"); };
    if (secretNext) { return mask(text); }
    var m = /^(\/(?:tracuu|status)(?:@\S+)?)\s+(.+)$/i.exec(text.trim());
    if (!m) { return text; }
    var args = m[2].split(/\s+/);
    var code = args.length >= 3 && args[0].length === 4 ? 3 : 1;  // "K7M2 P9XA 3FQT" or "K7M2-P9XA-3FQT"
    var rest = args.slice(code);
    return [m[1]].concat(args.slice(0, code), rest.length ? [mask(rest.join(" "))] : []).join(" ");
  }

  // -- the receipt: copy, save as a picture, kept across a reload -------------------------------

  function acknowledge(receipt) {
    // On screen: the server may forget it. If this is lost, the next message shows it again.
    fetch("/api/chat/receipt", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ receipt: receipt })
    }).catch(function () {});
  }

  function showReceipt(div, reply) {
    shownReceipts[reply.receipt] = true;
    var box = document.createElement("div");
    box.className = "receipt";
    var done = document.createElement("p");
    done.className = "done";
    done.setAttribute("role", "status");
    [[words.receipt, reply.receipt], [words.passphrase, reply.passphrase]].forEach(function (pair) {
      var line = document.createElement("div");
      line.className = "secret";
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = pair[0];
      var code = document.createElement("code");
      code.textContent = pair[1];
      var copy = document.createElement("button");
      copy.type = "button";
      copy.textContent = words.copy;
      copy.setAttribute("aria-label", words.copy + " " + pair[0]);
      copy.addEventListener("click", function () {
        copyText(pair[1]).then(function () { done.textContent = words.copied + ": " + pair[0]; });
      });
      line.appendChild(name);
      line.appendChild(code);
      line.appendChild(copy);
      box.appendChild(line);
    });
    var save = document.createElement("button");
    save.type = "button";
    save.className = "save";
    save.textContent = words.save;
    save.addEventListener("click", function () { saveCard(reply); done.textContent = words.saved; });
    box.appendChild(save);
    box.appendChild(done);
    div.appendChild(box);
    try {
      sessionStorage.setItem(KEPT, JSON.stringify({ receipt: reply.receipt, passphrase: reply.passphrase, received_on: reply.received_on, text: reply.text }));
    } catch (e) { /* storage off: the copy and save buttons remain */ }
    acknowledge(reply.receipt);
  }

  function copyText(text) {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(text).catch(function () { return legacyCopy(text); });
    }
    return Promise.resolve(legacyCopy(text));
  }

  function legacyCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* the code stays on screen to copy by hand */ }
    document.body.removeChild(area);
  }

  // A picture of the receipt drawn in the page (nothing is sent anywhere), downloaded to the device.
  function saveCard(reply) {
    var lines = [
      [words.receipt, reply.receipt],
      [words.passphrase, reply.passphrase],
      [words.cardDate, reply.received_on || ""]
    ];
    var name = "phan-anh-" + reply.receipt + ".png";
    var canvas = document.createElement("canvas");
    var scale = 2, w = 640, h = 400;
    canvas.width = w * scale;
    canvas.height = h * scale;
    var c = canvas.getContext && canvas.getContext("2d");
    if (!c || !canvas.toBlob) {
      var text = [words.cardTitle].concat(lines.map(function (l) { return l[0] + ": " + l[1]; }), [words.cardLookup, location.origin + "/", words.cardPrivate]).join("\n");
      download(new Blob([text + "\n"], { type: "text/plain;charset=utf-8" }), name.replace(/\.png$/, ".txt"));
      return;
    }
    c.scale(scale, scale);
    c.fillStyle = "#ffffff";
    c.fillRect(0, 0, w, h);
    c.fillStyle = "#a50e24";
    c.fillRect(0, 0, w, 56);
    c.fillStyle = "#ffffff";
    c.font = "bold 22px system-ui, sans-serif";
    c.fillText(words.cardTitle, 24, 36);
    var y = 96;
    lines.forEach(function (l) {
      c.fillStyle = "#595959";
      c.font = "15px system-ui, sans-serif";
      c.fillText(l[0], 24, y);
      c.fillStyle = "#1c1c1c";
      c.font = "bold 28px ui-monospace, monospace";
      c.fillText(l[1], 24, y + 32);
      y += 70;
    });
    c.font = "14px system-ui, sans-serif";
    c.fillStyle = "#1c1c1c";
    y = wrap(c, words.cardLookup + " " + location.origin + "/", 24, y + 4, w - 48, 19);
    c.fillStyle = "#a50e24";
    wrap(c, words.cardPrivate, 24, y + 6, w - 48, 19);
    canvas.toBlob(function (blob) { if (blob) { download(blob, name); } }, "image/png");
  }

  function wrap(c, text, x, y, width, step) {
    var line = "";
    text.split(" ").forEach(function (word) {
      var next = line ? line + " " + word : word;
      if (c.measureText(next).width > width && line) {
        c.fillText(line, x, y);
        y += step;
        line = word;
      } else {
        line = next;
      }
    });
    if (line) { c.fillText(line, x, y); y += step; }
    return y;
  }

  function download(blob, name) {
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  function keptReceipt() {
    try {
      var kept = JSON.parse(sessionStorage.getItem(KEPT) || "null");
      if (kept && kept.receipt) { render(kept); }
    } catch (e) { /* nothing kept */ }
  }

  // -- talking to the server ---------------------------------------------------------------------

  // "The Front is answering…", shown only when an answer takes longer than a moment.
  function typingWhile(promise) {
    var bubble = null;
    var timer = setTimeout(function () {
      bubble = document.createElement("div");
      bubble.className = "msg bot typing";
      var said = document.createElement("span");
      said.className = "visually-hidden";
      said.textContent = words.typing;
      bubble.appendChild(said);
      for (var i = 0; i < 3; i++) {
        var dot = document.createElement("span");
        dot.className = "dot";
        dot.setAttribute("aria-hidden", "true");
        bubble.appendChild(dot);
      }
      log.appendChild(bubble);
      log.scrollTop = log.scrollHeight;
    }, TYPING_AFTER);
    var stop = function () {
      clearTimeout(timer);
      if (bubble && bubble.parentNode) { bubble.parentNode.removeChild(bubble); }
    };
    return promise.then(function (value) { stop(); return value; }, function (err) { stop(); throw err; });
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
    var mine = shown ? add("me", body.text ? shownAs(shown) : shown) : null;
    disableOldButtons();
    body.lang = lang;
    typingWhile(postWithProof(body, 0)).then(function (data) {
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
  // A real button opens the file picker: reachable with Tab, named by its words.
  document.getElementById("attach").addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files[0];
    if (!file || busy) { return; }
    busy = true;
    add("me", words.fileSent + " " + file.name);
    disableOldButtons();
    var upload = new FormData();
    upload.append("file", file);
    typingWhile(fetch("/api/chat/upload?lang=" + encodeURIComponent(lang), { method: "POST", credentials: "same-origin", body: upload })
      .then(replies))
      .then(function (data) { data.replies.forEach(render); })
      .catch(failed)
      .then(function () { busy = false; fileInput.value = ""; });
  });
  keptReceipt();
  send({ resume: true }, null);
})();
