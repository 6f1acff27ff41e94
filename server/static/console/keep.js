// A form whose text must survive a session that ended (templates/console/knowledge_kept.html): before it is
// posted, ask the console for the current session's CSRF token (GET /console/api/session) and put it in the
// form, so "sign in again in another tab, then save again" works in one click. Still signed out: say so and
// keep the text in the page. No framework; the text itself is never touched.
(function () {
  "use strict";

  const notice = document.getElementById("kb-kept");
  if (notice) notice.focus();
  for (const form of document.querySelectorAll("form[data-keep-form]")) {
    const error = document.querySelector("[data-kept-error]");
    let fresh = false;
    form.addEventListener("submit", async (event) => {
      if (fresh) return; // the token was just refreshed: post
      event.preventDefault();
      let response = null;
      try {
        response = await fetch(form.dataset.sessionApi, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      } catch (e) {
        response = null;
      }
      if (response && response.ok) {
        const data = await response.json();
        form.querySelector('input[name="csrf_token"]').value = data.csrf_token;
        fresh = true;
        form.requestSubmit();
        return;
      }
      if (error) {
        error.textContent = response && response.status === 401
          ? "You are still signed out: sign in again in a new tab first, then press Save again. Your text stays here."
          : "The console cannot reach the server; your text stays here. Try again in a moment.";
        error.hidden = false;
      }
    });
  }
})();
