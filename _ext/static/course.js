/* The course edition's page behaviour (see _ext/course_edition.py).  No network, no library. */
"use strict";

/* Search from file://: Sphinx fetches every result page to show an excerpt; a browser refuses
   those fetches for file:// pages (a CORS error and an uncaught TypeError per result).  Opened
   from disk, the search shows titles without excerpts; over HTTP it shows excerpts as usual. */
if (window.location.protocol === "file:" && typeof DOCUMENTATION_OPTIONS !== "undefined") {
  DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false;
}

document.addEventListener("DOMContentLoaded", () => {
  /* Figures open enlarged on a tap (small screens) or a click: an overlay, scrollable, closed by
     another tap or Escape. */
  const close = () => document.querySelectorAll(".course-lightbox").forEach((el) => el.remove());
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") close(); });
  document.querySelectorAll("figure img, div.cell_output img").forEach((img) => {
    const link = img.closest("a");
    // an image that links elsewhere keeps its link; Sphinx's link to the image file itself
    // (a scaled image) becomes the enlarged view
    if (link && !link.classList.contains("image-reference")) return;
    img.classList.add("course-zoomable");
    img.setAttribute("tabindex", "0");
    img.setAttribute("role", "button");
    img.setAttribute("aria-label", "Enlarge: " + (img.getAttribute("alt") || "figure"));
    const open = () => {
      close();
      const box = document.createElement("div");
      box.className = "course-lightbox";
      box.setAttribute("role", "dialog");
      box.setAttribute("aria-label", "Enlarged figure (tap or press Escape to close)");
      const big = document.createElement("img");
      big.src = img.currentSrc || img.src;
      big.alt = img.alt;
      const shown = img.getBoundingClientRect().width || img.naturalWidth || 600;
      const narrow = window.innerWidth < 768;
      big.style.width = Math.round(narrow ? Math.max(window.innerWidth * 1.6, shown * 2)
                                          : Math.min(window.innerWidth * 0.95, shown * 1.6)) + "px";
      box.appendChild(big);
      box.addEventListener("click", close);
      document.body.appendChild(box);
    };
    img.addEventListener("click", (event) => { event.preventDefault(); open(); });
    img.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
  });

  /* MyST-NB's raw execution table marks success with an emoji that shows as an empty box where
     no emoji font is installed: say it in words. */
  document.querySelectorAll(".course-raw-exec td").forEach((td) => {
    const text = td.textContent.trim();
    if (text === "\u2705") td.textContent = "passed";
    else if (text === "\u274c") td.textContent = "FAILED";
  });
});
