// The reward page's copy button: shown only where the clipboard API exists.
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  if (!navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var text = document.getElementById(button.dataset.copy).textContent;
    var status = document.getElementById("copied");
    navigator.clipboard.writeText(text).then(
      function () { if (status) status.textContent = "Code copied."; },
      function () { if (status) status.textContent = "Copy failed: select the code and copy it."; }
    );
  });
});
