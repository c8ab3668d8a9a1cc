// Progressive upload: drag-and-drop, a list of chosen files and a progress bar.
// Without JavaScript the form still posts normally.
const form = document.getElementById("upload-form");
const input = document.getElementById("id_images");
const zone = document.getElementById("dropzone");
const chosen = document.getElementById("chosen");
const progress = document.getElementById("progress");
const progressText = document.getElementById("progress-text");
const button = document.getElementById("upload-button");

function formatSize(bytes) {
  return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

function listFiles() {
  chosen.replaceChildren(
    ...[...input.files].map((file) => {
      const li = document.createElement("li");
      li.textContent = `${file.name} (${formatSize(file.size)})`;
      return li;
    }),
  );
}

input.addEventListener("change", listFiles);

for (const type of ["dragenter", "dragover"]) {
  zone.addEventListener(type, (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
}
for (const type of ["dragleave", "drop"]) {
  zone.addEventListener(type, () => zone.classList.remove("over"));
}
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  input.files = event.dataTransfer.files;
  listFiles();
});

// Large selections go in several requests, so no single request outgrows the
// proxy's body limit (nginx: 200 MB) or the server's per-request file count.
const BATCH_BYTES = 100 * 1024 * 1024;
const BATCH_FILES = 20;

function batches(files) {
  const groups = [];
  let current = [];
  let size = 0;
  for (const file of files) {
    if (current.length && (size + file.size > BATCH_BYTES || current.length >= BATCH_FILES)) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(file);
    size += file.size;
  }
  if (current.length) groups.push(current);
  return groups;
}

function send(files, onProgress) {
  return new Promise((resolve, reject) => {
    const body = new FormData();
    body.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
    for (const file of files) body.append("images", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
    xhr.addEventListener("load", () => {
      if (xhr.status === 200 && xhr.response) return resolve(xhr.response);
      if (xhr.status === 413) return reject(new Error("a photo is larger than the server accepts."));
      const errors = (xhr.response && xhr.response.errors) || [`the server answered ${xhr.status}.`];
      reject(new Error(errors.join(" ")));
    });
    xhr.addEventListener("error", () => reject(new Error("the connection was lost.")));
    xhr.send(body);
  });
}

form.addEventListener("submit", async (event) => {
  if (!input.files.length) return; // let the server say what is missing
  event.preventDefault();
  const files = [...input.files];
  const total = files.reduce((sum, file) => sum + file.size, 0) || 1;
  progress.hidden = false;
  button.disabled = true;
  let done = 0;
  let redirect = window.location.href;
  try {
    for (const group of batches(files)) {
      const groupSize = group.reduce((sum, file) => sum + file.size, 0);
      const answer = await send(group, (loaded) => {
        const percent = Math.round(((done + loaded) / total) * 100);
        progress.value = percent;
        progressText.textContent =
          percent < 100 ? `Uploading… ${percent}%` : "Checking photos and finding labels…";
      });
      done += groupSize;
      if (answer.stored) redirect = answer.redirect;
    }
  } catch (error) {
    // Batches already sent are stored; their messages wait for the next page.
    progressText.textContent = `Upload stopped: ${error.message} Photos already sent are kept; try the rest again.`;
    button.disabled = false;
    return;
  }
  window.location.assign(redirect);
});
