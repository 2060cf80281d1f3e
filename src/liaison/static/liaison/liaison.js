// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (button && navigator.clipboard) {
    navigator.clipboard.writeText(button.dataset.copy);
    button.setAttribute("aria-live", "polite");
    button.textContent = button.dataset.copied || "Copied";
  }
});
