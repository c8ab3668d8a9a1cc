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

form.addEventListener("submit", (event) => {
  if (!input.files.length) return; // let the server say what is missing
  event.preventDefault();
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action || window.location.href);
  xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
  xhr.responseType = "json";
  progress.hidden = false;
  button.disabled = true;
  xhr.upload.addEventListener("progress", (e) => {
    if (!e.lengthComputable) return;
    const percent = Math.round((e.loaded / e.total) * 100);
    progress.value = percent;
    progressText.textContent =
      percent < 100 ? `Uploading… ${percent}%` : "Checking photos and finding labels…";
  });
  xhr.addEventListener("load", () => {
    if (xhr.response && xhr.response.redirect) {
      window.location.assign(xhr.response.redirect);
      return;
    }
    const errors = (xhr.response && xhr.response.errors) || [`The server answered ${xhr.status}.`];
    progressText.textContent = `Upload failed: ${errors.join(" ")}`;
    button.disabled = false;
  });
  xhr.addEventListener("error", () => {
    progressText.textContent = "Upload failed: the connection was lost. Nothing was lost on your side; try again.";
    button.disabled = false;
  });
  xhr.send(new FormData(form));
});
