// The confidence slider filters labels and boxes already on the page: no request.
// The chosen value is saved for next time once, when the person leaves the page.
const slider = document.getElementById("confidence");
const output = document.getElementById("confidence-value");
const summary = document.getElementById("none-above");
const items = document.querySelectorAll("#labels [data-confidence], #stage [data-confidence]");
const labelItems = document.querySelectorAll("#labels [data-confidence]");

// Boxes are placed here, not by style attributes: the Content-Security-Policy
// allows no inline styles. data-box is "left top width height" in percent.
for (const box of document.querySelectorAll("#stage [data-box]")) {
  const [left, top, width, height] = box.dataset.box.split(" ");
  Object.assign(box.style, {
    left: `${left}%`, top: `${top}%`, width: `${width}%`, height: `${height}%`,
  });
}

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
