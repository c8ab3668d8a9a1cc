// Suggestions under the search box: the person's own labels that start with the
// word being typed, most photos first. Arrow keys move, Enter or a click picks.
const box = document.getElementById("search-box");
const list = document.getElementById("search-suggestions");
let active = -1;
let timer = 0;
let asked = "";

function lastWord(value) {
  const match = value.match(/(^|\s)(-?)("?)([^\s"]*)$/);
  return match ? match[4] : "";
}

function close() {
  list.hidden = true;
  list.replaceChildren();
  box.setAttribute("aria-expanded", "false");
  box.removeAttribute("aria-activedescendant");
  active = -1;
}

function pick(name) {
  const value = box.value;
  const word = lastWord(value);
  const head = value.slice(0, value.length - word.length).replace(/"$/, "");
  const quoted = name.includes(" ") ? `"${name}"` : name;
  box.value = `${head}${quoted.toLowerCase()} `;
  close();
  box.focus();
}

function show(suggestions) {
  close();
  suggestions.forEach((item, index) => {
    const option = document.createElement("li");
    option.id = `suggestion-${index}`;
    option.setAttribute("role", "option");
    option.textContent = item.name;
    const count = document.createElement("small");
    count.textContent = ` ${item.count}`;
    option.append(count);
    option.addEventListener("mousedown", (event) => {
      event.preventDefault();
      pick(item.name);
    });
    list.append(option);
  });
  if (suggestions.length) {
    list.hidden = false;
    box.setAttribute("aria-expanded", "true");
  }
}

function highlight(index) {
  const options = [...list.children];
  if (!options.length) return;
  active = (index + options.length) % options.length;
  options.forEach((option, i) => option.setAttribute("aria-selected", String(i === active)));
  box.setAttribute("aria-activedescendant", options[active].id);
}

async function suggest() {
  const word = lastWord(box.value);
  if (!word || word === asked) {
    if (!word) close();
    return;
  }
  asked = word;
  const response = await fetch(`${box.dataset.suggest}?q=${encodeURIComponent(word)}`, {
    headers: { Accept: "application/json" },
  });
  if (response.ok && lastWord(box.value) === word) {
    show((await response.json()).suggestions);
  }
}

if (box && list) {  // signed in: the search box is on every page
  box.addEventListener("input", () => {
    clearTimeout(timer);
    asked = "";
    timer = setTimeout(suggest, 120);
  });
  box.addEventListener("keydown", (event) => {
    if (list.hidden) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight(active + 1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active - 1);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      pick(list.children[active].firstChild.textContent);
    } else if (event.key === "Escape") {
      close();
    }
  });
  box.addEventListener("blur", close);
}

// On a phone the header's links fold into a menu.
const toggle = document.getElementById("menu-toggle");
const nav = document.getElementById("site-nav");
if (toggle && nav) {
  toggle.addEventListener("click", () => {
    const open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  });
}
