/* The audit console: local times, the viewer's time zone in the filter, and the chart.
 * Plain JS under the admin's CSP (script-src 'self'): no inline code; the chart's data
 * comes from a <script type="application/json"> block. Without JS the page shows UTC times
 * and the chart's table. */
(function () {
  "use strict";

  function pad(n) { return String(n).padStart(2, "0"); }

  function localTimes() {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    document.querySelectorAll("time.audit-time").forEach(function (el) {
      var moment = new Date(el.getAttribute("datetime"));
      if (isNaN(moment.getTime())) { return; }
      el.textContent = moment.getFullYear() + "-" + pad(moment.getMonth() + 1) + "-" +
        pad(moment.getDate()) + " " + pad(moment.getHours()) + ":" + pad(moment.getMinutes()) +
        ":" + pad(moment.getSeconds());
      el.classList.add("local");
    });
    var label = document.getElementById("audit-zone");
    if (label) { label.textContent = zone; }
    var tz = document.getElementById("id_tz");
    if (tz && !tz.value) { tz.value = zone; }
  }

  var PALETTE = ["#2f6fab", "#d1495b", "#3a9d5d", "#e8a33d", "#7b5ea7", "#2a9d8f", "#c05621",
    "#5c6b73", "#b83280", "#4c51bf"];

  function chart() {
    var canvas = document.getElementById("audit-chart");
    var source = document.getElementById("audit-chart-data");
    if (!canvas || !source || typeof window.Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var labels = data.buckets.map(function (b) {
      var d = new Date(b);
      if (data.bucket === "hour") { return pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":00"; }
      if (data.bucket === "day") { return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()); }
      return d.getFullYear() + "-" + pad(d.getMonth() + 1);
    });
    var datasets = data.series.map(function (s, i) {
      var color = PALETTE[i % PALETTE.length];
      return {
        label: s.application + ": " + s.outcome,
        data: s.counts,
        backgroundColor: color,
        borderColor: color,
        stack: s.outcome,
      };
    });
    canvas.hidden = false;
    canvas.parentElement.classList.add("drawn");
    window.auditChart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
    document.body.setAttribute("data-chart-ready", "1");
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    chart();
  });
})();
