// Selecting photos for a bulk action (click, shift-click for a range, all on the
// page), and "Detect labels in all": batches in the browser with a progress bar.
const grid = document.getElementById("grid");
const bar = document.getElementById("bulk-bar");
const counter = document.getElementById("selected-count");
const picks = grid ? [...grid.querySelectorAll("input.pick")] : [];
let lastPicked = -1;

function refresh() {
  const count = picks.filter((box) => box.checked).length;
  if (bar) bar.hidden = count === 0;
  if (counter) counter.textContent = count ? ` · ${count} selected` : "";
  for (const box of picks) box.closest(".tile").classList.toggle("picked", box.checked);
}

picks.forEach((box, index) => {
  box.addEventListener("click", (event) => {
    if (event.shiftKey && lastPicked >= 0) {
      const [from, to] = [Math.min(lastPicked, index), Math.max(lastPicked, index)];
      for (const other of picks.slice(from, to + 1)) other.checked = box.checked;
    }
    lastPicked = index;
    refresh();
  });
});
document.getElementById("select-all")?.addEventListener("click", () => {
  for (const box of picks) box.checked = true;
  refresh();
});
document.getElementById("select-none")?.addEventListener("click", () => {
  for (const box of picks) box.checked = false;
  refresh();
});
document.getElementById("bulk-form")?.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.elements.action.value === "delete") {
    const count = picks.filter((box) => box.checked).length;
    if (!window.confirm(`Delete ${count} photo${count === 1 ? "" : "s"}? This cannot be undone.`)) {
      event.preventDefault();
    }
  }
});
refresh();

const missing = document.getElementById("detect-missing");
if (missing) {
  const start = document.getElementById("detect-missing-start");
  const stop = document.getElementById("detect-missing-stop");
  const progress = document.getElementById("detect-missing-progress");
  const text = document.getElementById("detect-missing-text");
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
  let stopped = false;

  stop.addEventListener("click", () => {
    stopped = true;
    stop.disabled = true;
    text.textContent = "Stopping after this batch…";
  });

  start.addEventListener("click", async () => {
    stopped = false;
    start.hidden = true;
    stop.hidden = false;
    stop.disabled = false;
    progress.hidden = false;
    let after = "";
    let done = 0;
    let failed = 0;
    for (;;) {
      const body = new FormData();
      body.append("after", after);
      let response;
      try {
        response = await fetch(missing.dataset.url, {
          method: "POST",
          body,
          headers: { "X-CSRFToken": csrf, "X-Requested-With": "XMLHttpRequest" },
        });
      } catch {
        text.textContent = "The server could not be reached; press the button to go on.";
        break;
      }
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        text.textContent = answer.error ?? "Something went wrong; press the button to go on.";
        break;
      }
      done += answer.done;
      failed += answer.failed;
      after = answer.after;
      progress.max = done + failed + answer.remaining;
      progress.value = done + failed;
      text.textContent = `${done} labelled${failed ? `, ${failed} failed` : ""}, ${answer.remaining} to go`;
      if (answer.remaining === 0 || !answer.after) {
        text.textContent = `Done: ${done} labelled${failed ? `, ${failed} could not be` : ""}. Reloading…`;
        window.location.reload();
        return;
      }
      if (stopped) {
        text.textContent = `Stopped: ${done} labelled, ${answer.remaining} left.`;
        break;
      }
    }
    start.hidden = false;
    start.textContent = "Go on";
    stop.hidden = true;
  });
}
