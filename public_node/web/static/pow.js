// credgap sign-up challenge: find n such that SHA-256(nonce ":" n) starts with `difficulty` zero bits.
(function () {
  "use strict";
  var form = document.getElementById("register");
  if (!form) { return; }
  var nonce = form.dataset.nonce, difficulty = parseInt(form.dataset.difficulty, 10);
  var enc = new TextEncoder(), solved = false;
  function zeroBits(bytes, bits) {
    for (var i = 0; i < bits; i++) {
      if ((bytes[i >> 3] >> (7 - (i & 7))) & 1) { return false; }
    }
    return true;
  }
  async function solve() {
    for (var n = 0; ; n++) {
      var h = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(nonce + ":" + n)));
      if (zeroBits(h, difficulty)) { return String(n); }
    }
  }
  form.addEventListener("submit", function (ev) {
    if (solved) { return; }
    ev.preventDefault();
    document.getElementById("pow-status").textContent = "\u2026";
    solve().then(function (n) {
      document.getElementById("pow").value = n;
      solved = true;
      form.submit();
    });
  });
})();
