// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (button && navigator.clipboard) {
    navigator.clipboard.writeText(button.dataset.copy);
    button.setAttribute("aria-live", "polite");
    button.textContent = button.dataset.copied || "Copied";
  }
});

// Fields that matter for one choice only: <div data-shown-for="available=at"> is shown while
// the form's "available" control is "at". A hidden field is also disabled, so that a value
// left in it is not sent. Without JavaScript every field stays visible.
function shownFor(element) {
  const [name, value] = element.dataset.shownFor.split("=");
  const form = element.closest("form");
  const control = form && form.elements.namedItem(name);
  return control ? { control, value } : null;
}

function showFieldsFor(root, initial) {
  const dependants = [...root.querySelectorAll("[data-shown-for]")];
  if (initial) {
    // A value already given (a bookmarked address) means its choice: show it with it.
    dependants.forEach((element) => {
      const rule = shownFor(element);
      const filled = [...element.querySelectorAll("input")].some((input) => input.value);
      if (rule && filled && [...(rule.control.options || [])].some((o) => o.value === rule.value)) {
        rule.control.value = rule.value;
      }
    });
  }
  dependants.forEach((element) => {
    const rule = shownFor(element);
    if (!rule) return;
    const shown = rule.control.value === rule.value;
    element.hidden = !shown;
    element.querySelectorAll("input, select, textarea").forEach((input) => {
      input.disabled = !shown;
    });
  });
}

document.addEventListener(
  "change",
  (event) => {
    const form = event.target.form;
    if (!form) return;
    const dependants = [...form.querySelectorAll("[data-shown-for]")].filter((element) => {
      const rule = shownFor(element);
      return rule && rule.control === event.target;
    });
    if (!dependants.length) return;
    showFieldsFor(form, false);
    // Just revealed and still empty: wait for the date before searching again.
    const revealed = dependants.filter((element) => !element.hidden);
    const empty = revealed.some((element) =>
      [...element.querySelectorAll("input")].some((input) => !input.value)
    );
    if (revealed.length && empty) event.stopPropagation();
  },
  true
);

// <details data-open-on-wide-screens>: closed on a phone (the results come first), open where
// there is room for every filter.
function openOnWideScreens(root) {
  if (!window.matchMedia("(min-width: 40rem)").matches) return;
  root.querySelectorAll("details[data-open-on-wide-screens]").forEach((details) => {
    details.open = true;
  });
}

function enhance(root) {
  showFieldsFor(root, true);
  openOnWideScreens(root);
}

enhance(document);
// New content from htmx (a history restore brings the whole page back).
document.addEventListener("htmx:load", (event) => enhance(event.target));
