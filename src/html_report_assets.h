// The inline CSS and script of the HTML report page (html_report.h), apart from the C++ that
// writes the page.
#pragma once

namespace prefscore {

// Click-to-sort and the #selftest check (html_report.h). Rows keep their original index as the
// last key, so that the sort is stable whatever the browser's; NaN sorts last both ways.
constexpr const char* kScript = R"JS(
(function () {
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); });
  function key(row, col, numeric) {
    var cell = row.cells[col];
    return numeric ? parseFloat(cell.getAttribute('data-v')) : cell.textContent;
  }
  function sortTable(table, col, descending) {
    var th = table.tHead.rows[0].cells[col];
    var numeric = th.getAttribute('data-kind') === 'number';
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (r, i) { return [r, i]; });
    rows.sort(function (a, b) {
      var x = key(a[0], col, numeric), y = key(b[0], col, numeric), c = 0;
      if (numeric && (isNaN(x) || isNaN(y))) {
        c = isNaN(x) === isNaN(y) ? 0 : (isNaN(x) ? 1 : -1);
      } else {
        c = x < y ? -1 : (x > y ? 1 : 0);
        if (descending) c = -c;
      }
      return c !== 0 ? c : a[1] - b[1];
    });
    rows.forEach(function (r) { body.appendChild(r[0]); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.removeAttribute('data-sorted');
    });
    th.setAttribute('data-sorted', descending ? 'desc' : 'asc');
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      if (!th.hasAttribute('data-kind')) return;
      th.addEventListener('click', function () {
        sortTable(table, col, th.getAttribute('data-sorted') === 'asc');
      });
    });
  });
  function ordered(table, col, descending) {
    var values = Array.prototype.map.call(table.tBodies[0].rows, function (r) {
      return key(r, col, true);
    });
    for (var i = 1; i < values.length; ++i) {
      if (isNaN(values[i - 1]) && !isNaN(values[i])) return false;
      if (!isNaN(values[i]) && (descending ? values[i - 1] < values[i]
                                           : values[i - 1] > values[i])) return false;
    }
    return true;
  }
  function selftest() {
    var table = document.querySelector('table.sortable');
    var sorted = 'none';
    if (table) {
      var th = table.querySelector('th[data-kind=number]');
      if (th) {
        var col = th.cellIndex;
        sortTable(table, col, false);
        if (!ordered(table, col, false)) throw new Error('ascending sort out of order');
        sortTable(table, col, true);
        if (!ordered(table, col, true)) throw new Error('descending sort out of order');
        sorted = th.textContent;
      }
    }
    var broken = Array.prototype.filter.call(document.images, function (img) {
      return img.complete && img.naturalWidth === 0;
    }).length;
    if (broken > 0) throw new Error(broken + ' images did not decode');
    if (errors.length > 0) throw new Error('script error: ' + errors.join('; '));
    return 'pass images=' + document.images.length +
        ' tables=' + document.querySelectorAll('table').length +
        ' rows=' + document.querySelectorAll('table.sortable tbody tr').length +
        ' svg=' + document.querySelectorAll('svg').length + ' sorted=' + sorted;
  }
  if (location.hash === '#selftest') {
    var run = function () {
      var verdict;
      try { verdict = selftest(); } catch (e) { verdict = 'fail: ' + e.message; }
      document.documentElement.setAttribute('data-selftest', verdict);
    };
    run();
    window.addEventListener('load', run);
  }
})();
)JS";

constexpr const char* kStyle = R"CSS(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
code.cmd { display: block; background: #f4f4f4; padding: .5em; white-space: pre-wrap;
  word-break: break-all; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: middle; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th[data-kind] { cursor: pointer; background: #f0f0f0; }
th[data-sorted=asc]::after { content: " \25B2"; } th[data-sorted=desc]::after { content: " \25BC"; }
.placeholder { display: inline-block; background: #eee; color: #666; font-size: 11px;
  padding: 4px; max-width: 160px; word-break: break-all; }
.group { margin: .8em 0; } .cands { display: flex; flex-wrap: wrap; gap: 8px; }
figure { margin: 0; padding: 4px; border: 2px solid transparent; }
figure.best { border-color: #2a9d3a; background: #effaf0; }
figcaption { font-size: 12px; max-width: 320px; word-break: break-word; }
.pair { display: flex; gap: 8px; align-items: center; margin: .5em 0; }
svg .bar { fill: #4a78c2; } svg text { font-size: 11px; fill: #333; }
.note { color: #8a5a00; }
)CSS";

}  // namespace prefscore
