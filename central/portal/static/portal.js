// The station page's check in the reader's own browser: on the reader's tap, load the verifier
// (verify.js, global uchastokVerify: ~30 KB, fetched only then, so a phone on a poor link pays for
// it only when it is wanted), fetch the observer export, check it against the CEC's key and say
// what was found. The portal's only script; every figure on the page is there without it.
(function () {
  "use strict";
  var box = document.getElementById("verify");
  var button = document.getElementById("verify-button");
  var out = document.getElementById("verify-result");
  if (!box || !button || !out) { return; }
  function show(result, text) {
    box.setAttribute("data-result", result);
    out.className = result;
    out.textContent = text;
  }
  function load(src) {
    return new Promise(function (resolve, reject) {
      if (window.uchastokVerify) { resolve(); return; }
      var s = document.createElement("script");
      s.src = src;
      s.onload = function () { resolve(); };
      s.onerror = function () { reject(new Error(src)); };
      document.head.appendChild(s);
    });
  }
  button.addEventListener("click", function () {
    if (!window.fetch || !window.Promise) {
      show("bad", box.getAttribute("data-unavailable"));
      return;
    }
    button.disabled = true;
    show("running", box.getAttribute("data-running"));
    load(box.getAttribute("data-script"))
      .then(function () { return fetch(box.getAttribute("data-export"), { credentials: "omit" }); })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();            // the text: verify.js parses it as strictly as the centre does
      })
      .then(function (doc) {
        return window.uchastokVerify.verifyExport(doc, box.getAttribute("data-authority"));
      })
      .then(function (report) {
        var envelopes = report.envelopes || [];
        var shown = box.getAttribute("data-hash");
        var found = envelopes.some(function (e) { return e.ok && e.hash === shown; });
        if (!report.ok) {
          var why = envelopes.filter(function (e) { return !e.ok; }).slice(0, 3)
            .map(function (e) { return "seq " + e.seq + ": " + e.error; })
            .concat(report.error ? [report.error] : [], report.problems || []);
          show("bad", box.getAttribute("data-bad") + (why.length ? " — " + why.join("; ") : ""));
        } else if (!found) {
          show("bad", box.getAttribute("data-other"));
        } else {
          show("ok", box.getAttribute("data-ok") + " (" + envelopes.length + ", " + report.device + ")");
        }
      })
      .catch(function (e) {
        show("bad", box.getAttribute("data-unavailable") + " (" + e.message + ")");
      })
      .then(function () { button.disabled = false; });
  });
})();
