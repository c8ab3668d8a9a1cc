// The confidence slider filters labels and boxes already on the page: no request.
// The chosen value is saved for next time once, when the person leaves the page.
const slider = document.getElementById("confidence");
const output = document.getElementById("confidence-value");
const summary = document.getElementById("none-above");
const items = document.querySelectorAll("#labels [data-confidence], #stage [data-confidence]");
const labelItems = document.querySelectorAll("#labels [data-confidence]");

function applyThreshold() {
  const threshold = Number(slider.value);
  output.textContent = slider.value;
  for (const el of items) {
    el.hidden = Number(el.dataset.confidence) < threshold;
  }
  if (summary && labelItems.length) {
    const hiddenCount = [...labelItems].filter((el) => el.hidden).length;
    summary.hidden = hiddenCount === 0;
    summary.textContent = `${hiddenCount} label${hiddenCount === 1 ? "" : "s"} below ${threshold}% hidden.`;
  }
}

if (slider) {
  const initial = slider.value;
  slider.addEventListener("input", applyThreshold);
  applyThreshold();
  window.addEventListener("pagehide", () => {
    if (slider.value !== initial) {
      navigator.sendBeacon(slider.form.action, new FormData(slider.form));
    }
  });
}

for (const form of document.querySelectorAll("form[data-busy]")) {
  form.addEventListener("submit", () => {
    const button = form.querySelector("button");
    button.disabled = true;
    button.textContent = form.dataset.busy;
  });
}

// Adding a label: names the person has and names the engines know, as they type.
const addInput = document.getElementById("add-label-name");
const addOptions = document.getElementById("add-label-options");
if (addInput && addOptions) {
  let pending = 0;
  addInput.addEventListener("input", () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const typed = addInput.value.trim();
      if (!typed) return;
      const response = await fetch(`${addInput.dataset.suggest}&q=${encodeURIComponent(typed)}`);
      if (!response.ok) return;
      const { suggestions } = await response.json();
      addOptions.replaceChildren(
        ...suggestions.map((item) => Object.assign(document.createElement("option"), { value: item.name })),
      );
    }, 120);
  });
}

// The stage keeps the photo's shape, as large as the screen allows (small photos
// are scaled up), and the boxes sit on it as percentages of its size.
const stage = document.getElementById("stage");
if (stage) {
  const ratio = Number(stage.dataset.width) / Number(stage.dataset.height);
  stage.style.setProperty("--ratio", String(ratio));
  for (const box of stage.querySelectorAll(".box[data-box]")) {
    const [left, top, width, height] = box.dataset.box.split(" ");
    Object.assign(box.style, { left: `${left}%`, top: `${top}%`, width: `${width}%`, height: `${height}%` });
  }
}

// Newer / older photo with the arrow keys, back to the gallery with Escape, and
// a swipe on touch screens.
function go(id) {
  const link = document.getElementById(id);
  if (link) window.location.assign(link.href);
}
document.addEventListener("keydown", (event) => {
  const typing = event.target.closest?.("input, textarea, select, [contenteditable]");
  if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.key === "ArrowLeft") go("newer-link");
  else if (event.key === "ArrowRight") go("older-link");
  else if (event.key === "Escape") go("back-link");
});
if (stage) {
  let startX = null;
  stage.addEventListener("touchstart", (event) => {
    startX = event.touches.length === 1 ? event.touches[0].clientX : null;
  }, { passive: true });
  stage.addEventListener("touchend", (event) => {
    if (startX === null) return;
    const moved = event.changedTouches[0].clientX - startX;
    if (Math.abs(moved) > 60) go(moved > 0 ? "newer-link" : "older-link");
    startX = null;
  });
}
