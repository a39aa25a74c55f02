/* The cpp2py page: POST /v1/translate, show the Python highlighted, verification and errors. No build step. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var cpp = $("cpp"), btn = $("translate"), verify = $("verify"), stdin = $("stdin"), code = $("python-code"),
      err = $("error"), badges = $("badges"), copyBtn = $("copy"), dlBtn = $("download"), logBox = $("log-box"),
      logPre = $("log"), server = $("server");
  var python = "";
  var EXAMPLE = [
    "#include <iostream>",
    "#include <vector>",
    "using namespace std;",
    "",
    "// Sum of the even numbers in v",
    "int sumEven(const vector<int>& v) {",
    "    int total = 0;",
    "    for (int x : v) {",
    "        if (x % 2 == 0) total += x;",
    "    }",
    "    return total;",
    "}",
    "",
    "int main() {",
    "    vector<int> v = {1, 2, 3, 4, 5, 6};",
    "    cout << sumEven(v) << endl;",
    "    return 0;",
    "}"
  ].join("\n");

  function showError(msg) { err.textContent = msg; err.hidden = !msg; }
  function badge(cls, text) {
    var b = document.createElement("span"); b.className = "badge " + cls; b.textContent = text; badges.appendChild(b);
  }
  function setBusy(busy) {
    btn.disabled = busy; btn.classList.toggle("busy", busy);
    btn.textContent = busy ? "Translating" : "Translate";
  }
  function setPython(text) {
    python = text;
    code.innerHTML = window.highlightPython(text);
    copyBtn.disabled = dlBtn.disabled = !text;
  }

  async function translate() {
    showError(""); badges.textContent = ""; logBox.hidden = true;
    if (!cpp.value.trim()) { showError("Paste some C++ first."); return; }
    var body = { cpp: cpp.value, verify: verify.checked };
    if (verify.checked && stdin.value) body.stdin = stdin.value;
    setBusy(true);
    try {
      var resp = await fetch("/v1/translate", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
      });
      var data = await resp.json().catch(function () { return {}; });
      if (!resp.ok) {
        var msg = (data.error && data.error.message) || resp.statusText;
        showError("Error " + resp.status + ": " + msg);
        return;
      }
      setPython(data.python);
      badge(data.parses ? "ok" : "bad", data.parses ? "parses" : "does not parse");
      if (data.verified === true) badge("ok", "verified: pass");
      else if (data.verified === false) badge("bad", "verified: fail");
      if (data.repairs) badge("info", data.repairs + " repair" + (data.repairs > 1 ? "s" : ""));
      if (data.hit_token_cap) badge("bad", "cut at token limit");
      badge("info", data.seconds.toFixed(2) + " s");
      if (data.check !== undefined) {
        logPre.textContent = data.repairs + " repair round" + (data.repairs === 1 ? "" : "s") +
          " after the first attempt.\nLast check: " + (data.check || "(none)");
        logBox.hidden = false; logBox.open = data.verified === false;
      }
    } catch (e) {
      showError("Could not reach the server: " + e.message);
    } finally {
      setBusy(false);
    }
  }

  async function copy() {
    try { await navigator.clipboard.writeText(python); }
    catch (e) {  // clipboard API unavailable (e.g. plain http on a LAN address): fall back to a selection copy
      var t = document.createElement("textarea"); t.value = python; document.body.appendChild(t);
      t.select(); document.execCommand("copy"); t.remove();
    }
    copyBtn.textContent = "Copied"; setTimeout(function () { copyBtn.textContent = "Copy"; }, 1200);
  }

  function download() {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([python + "\n"], { type: "text/x-python" }));
    a.download = "translation.py"; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
  }

  async function health() {
    try {
      var h = await (await fetch("/healthz")).json();
      server.textContent = h.model + " · batch " + h.batch_size; server.className = "server up";
      if (!h.allow_exec) {
        verify.disabled = true; $("verify-label").classList.add("disabled");
        $("verify-label").title = "The server was started without --allow-exec, so it does not run code.";
        $("verify-label").appendChild(document.createTextNode(" (off: no --allow-exec)"));
      }
    } catch (e) { server.textContent = "server unreachable"; server.className = "server down"; }
  }

  btn.addEventListener("click", translate);
  copyBtn.addEventListener("click", copy);
  dlBtn.addEventListener("click", download);
  verify.addEventListener("change", function () { stdin.hidden = !verify.checked; });
  $("example").addEventListener("click", function () { cpp.value = EXAMPLE; cpp.focus(); });
  cpp.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); translate(); }
    if (e.key === "Tab") {  // indent instead of leaving the editor
      e.preventDefault();
      var s = cpp.selectionStart; cpp.setRangeText("    ", s, cpp.selectionEnd, "end");
    }
  });
  health();
})();
