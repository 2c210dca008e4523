// The station page's check in the reader's own browser: fetch the observer export, hand it to the
// verifier (verify.js, global uchastokVerify) with the CEC's key, and say what it found. The portal's
// only script; every figure on the page is there without it.
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
  button.addEventListener("click", function () {
    if (!window.uchastokVerify || !window.fetch || !window.Promise) {
      show("bad", box.getAttribute("data-unavailable"));
      return;
    }
    button.disabled = true;
    show("running", box.getAttribute("data-running"));
    fetch(box.getAttribute("data-export"), { credentials: "omit" })
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
