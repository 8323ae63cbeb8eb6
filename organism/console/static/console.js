// The console's little JavaScript: select-all boxes, confirmations, and refreshing a run while it runs.
document.addEventListener("DOMContentLoaded", () => {
  for (const box of document.querySelectorAll("[data-select-all]")) {
    box.addEventListener("change", () => {
      for (const item of box.form.querySelectorAll(`input[type=checkbox][name="${box.dataset.selectAll}"]`)) {
        item.checked = box.checked;
      }
    });
  }
  for (const button of document.querySelectorAll("[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
  const live = document.querySelector("[data-refresh]");
  if (live) setTimeout(() => window.location.reload(), Number(live.dataset.refresh) * 1000);
  for (const node of document.querySelectorAll("[data-node]")) {
    node.addEventListener("click", () => {
      for (const row of document.querySelectorAll("tr.highlight")) row.classList.remove("highlight");
      const row = document.getElementById(`node-${node.dataset.node}`);
      if (row) row.classList.add("highlight");
    });
  }
});
