/* Qingting analytics dashboard: draws the charts from the JSON data island with ECharts.
   No inline script (CSP script-src 'self'); every chart element links to the filtered queue. */
(function () {
  "use strict";
  var island = document.getElementById("analytics-data");
  if (!island) return;
  var data = JSON.parse(island.textContent || "{}");
  var charts = [];
  var COLORS = ["#0b6e4f", "#c05621", "#2b6cb0", "#805ad5", "#d69e2e", "#38a169", "#e53e3e", "#319795"];

  function none(el, text) { el.innerHTML = ""; var p = document.createElement("p"); p.className = "none"; p.textContent = text || "暂无数据"; el.appendChild(p); el.dataset.rendered = "empty"; }
  function draw(el, option, links) {
    if (typeof echarts === "undefined") { none(el, "图表库未加载（请运行 npm install）"); return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    option.color = option.color || COLORS;
    option.textStyle = { fontFamily: "PingFang SC, Microsoft YaHei, Noto Sans CJK SC, sans-serif" };
    chart.setOption(option);
    if (links) chart.on("click", function (p) {
      var href = typeof links === "function" ? links(p) : links[p.dataIndex];
      if (href) window.location.href = href;
    });
    el.dataset.rendered = "chart";
    charts.push(chart);
  }
  function pareto(el, items) {
    if (!items || !items.length) return none(el);
    draw(el, {
      tooltip: { trigger: "axis" }, grid: { left: 50, right: 50, bottom: 80, top: 30 },
      xAxis: { type: "category", data: items.map(function (i) { return i.name; }), axisLabel: { rotate: 35, interval: 0, fontSize: 11 } },
      yAxis: [{ type: "value", name: "件" }, { type: "value", name: "累计%", max: 100, axisLabel: { formatter: "{value}%" } }],
      series: [
        { type: "bar", name: "件数", data: items.map(function (i) { return { value: i.n, itemStyle: { color: i.vital ? "#c05621" : "#a0aec0" } }; }) },
        { type: "line", name: "累计占比", yAxisIndex: 1, data: items.map(function (i) { return i.cum; }), markLine: { silent: true, symbol: "none", data: [{ yAxis: 80 }], lineStyle: { type: "dashed" } } }
      ]
    }, items.map(function (i) { return i.link; }));
  }
  function bars(el, items, links) {
    if (!items || !items.length) return none(el);
    var rev = items.slice().reverse();
    draw(el, {
      tooltip: {}, grid: { left: 120, right: 30, top: 10, bottom: 30 },
      xAxis: { type: "value" }, yAxis: { type: "category", data: rev.map(function (i) { return i.name; }) },
      series: [{ type: "bar", data: rev.map(function (i) { return i.n; }) }]
    }, links ? rev.map(function () { return links; }) : null);
  }
  function pie(el, items) {
    var shown = (items || []).filter(function (i) { return i.n > 0; });
    if (!shown.length) return none(el);
    draw(el, { tooltip: { formatter: "{b}: {c}（{d}%）" }, series: [{ type: "pie", radius: ["35%", "65%"], data: shown.map(function (i) { return { name: i.name, value: i.n }; }) }] },
      function () { return data.queue_link; });
  }
  var renderers = {
    volume: function (el) {
      var v = data.volume || { points: [] };
      if (!v.points.length || (v.total === 0 && v.prev_total === 0)) return none(el, "所选期间没有投诉");
      draw(el, {
        tooltip: { trigger: "axis" }, legend: { data: ["本期", "上期"] }, grid: { left: 50, right: 20, top: 30, bottom: 30 },
        xAxis: { type: "category", data: v.points.map(function (p) { return p.label; }) }, yAxis: { type: "value", name: "件" },
        series: [
          { name: "本期", type: "line", smooth: true, areaStyle: { opacity: 0.15 }, data: v.points.map(function (p) { return p.n; }) },
          { name: "上期", type: "line", smooth: true, lineStyle: { type: "dashed" }, data: v.points.map(function (p) { return p.prev; }) }
        ]
      }, v.points.map(function (p) { return p.link; }));
    },
    pareto_l1: function (el) { pareto(el, data.pareto_l1); },
    pareto_l2: function (el) { pareto(el, data.pareto_l2); },
    pareto_root: function (el) { pareto(el, data.pareto_root); },
    heatmap: function (el) {
      var h = data.heatmap;
      if (!h || !h.cells.length) return none(el);
      draw(el, {
        tooltip: { position: "top", formatter: function (p) { return h.departments[p.value[1]].name + " · " + h.categories[p.value[0]].name + "：" + p.value[2] + " 件"; } },
        grid: { left: 110, right: 20, top: 10, bottom: 90 },
        xAxis: { type: "category", data: h.categories.map(function (c) { return c.name; }), axisLabel: { rotate: 35, interval: 0, fontSize: 11 } },
        yAxis: { type: "category", data: h.departments.map(function (d) { return d.name; }) },
        visualMap: { min: 0, max: h.max || 1, calculable: true, orient: "horizontal", left: "center", bottom: 0, itemHeight: 80, inRange: { color: ["#f7fafc", "#f6ad55", "#c53030"] } },
        series: [{ type: "heatmap", data: h.cells, label: { show: h.cells.length < 80 } }]
      }, function (p) {
        var d = h.departments[p.value[1]], c = h.categories[p.value[0]], url = new URL(h.link, window.location.origin);
        if (d && d.key) url.searchParams.set("department", d.key);
        if (c && c.key) url.searchParams.set("category", c.key);
        return url.pathname + url.search;
      });
    },
    top_items: function (el) {
      var t = data.top_items || {};
      var items = (t.series && t.series.length) ? t.series : (t.product && t.product.length ? t.product : t.brand);
      bars(el, items, data.queue_link);
    },
    csat: function (el) {
      var c = data.csat;
      if (!c || !c.available) return none(el, "评价模块未启用");
      if (!c.n) return none(el, "本期没有满意度评价");
      bars(el, c.dist.map(function (d) { return { name: d.stars + " 星", n: d.n }; }).reverse(), data.queue_link);
    },
    emotion: function (el) { pie(el, (data.mix || {}).emotion); },
    persona: function (el) { pie(el, (data.mix || {}).persona); },
    sla: function (el) {
      var s = data.sla;
      if (!s || !s.available) return none(el, "时限模块未启用");
      if (!s.kinds.length) return none(el, "本期没有办理时限记录");
      draw(el, {
        tooltip: { trigger: "axis" }, legend: { data: ["达标", "超时", "进行中"] }, grid: { left: 50, right: 20, top: 30, bottom: 30 },
        xAxis: { type: "category", data: s.kinds.map(function (k) { return k.name || k.kind; }) }, yAxis: { type: "value" },
        series: [
          { name: "达标", type: "bar", stack: "s", data: s.kinds.map(function (k) { return k.met; }) },
          { name: "超时", type: "bar", stack: "s", data: s.kinds.map(function (k) { return k.breached; }) },
          { name: "进行中", type: "bar", stack: "s", data: s.kinds.map(function (k) { return k.open; }) }
        ]
      }, function () { return s.link; });
    }
  };
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var fn = renderers[el.dataset.chart];
    try { if (fn) fn(el); } catch (e) { none(el, "图表绘制失败"); if (window.console) console.error(e); }
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
