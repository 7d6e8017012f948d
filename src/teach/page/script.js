/* The sweep page: shows the steps the library computed (the JSON in
 * #data), one at a time.  It computes no derivative itself. */
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('data').textContent);
  var $ = function (id) { return document.getElementById(id); };
  var mode = 'rev', seed = 0, step = 0, timer = null;
  var nodes = {}, edges = {};

  Array.prototype.forEach.call(document.querySelectorAll('#graph g.node'), function (g) {
    var id = +g.getAttribute('data-id');
    nodes[id] = { g: g, dyn: $('d' + id), badge: $('b' + id), cls: g.getAttribute('class') };
  });
  Array.prototype.forEach.call(document.querySelectorAll('#graph g.edge'), function (g) {
    edges[g.id] = { g: g, cls: g.getAttribute('class') };
  });

  var f = data.names[data.out];
  function name(id) { return data.names[id]; }
  function hasGrad(id) { return nodes[id] && !/\bconst\b/.test(nodes[id].cls); }

  /* The steps of the current sweep: a first step before anything happens,
   * then one per event. */
  function events() {
    if (mode === 'rev')
      return data.rev;
    var s = data.fwd[seed];
    if (!s)
      return [{ k: 'head', n: -1, lines: ['This tape has no input that wants a gradient.'] }];
    var ev = [{ k: 'head', n: -1, lines: ['forward mode: seed ∂' + s.label + '/∂' + s.label +
      ' = 1, then every node in recording order combines its inputs\' tangents by the chain rule', ''] }];
    s.steps.forEach(function (st) { ev.push({ k: 'fwd', n: st.n, show: st.show, lines: [st.line] }); });
    return ev;
  }

  function setClass(o, extra) { o.g.setAttribute('class', o.cls + (extra ? ' ' + extra : '')); }

  function render() {
    var ev = events(), e = ev[step], shown = {}, done = {}, i, id;
    for (i = 1; i <= step; i++)
      shown[ev[i].n] = ev[i].show;
    /* a node is finished once the sweep has moved past all of its steps */
    var cur = e.k === 'edge' ? e.from : e.n;
    for (i = 1; i <= step; i++) {
      var n = ev[i].k === 'edge' ? ev[i].from : ev[i].n;
      if (n !== cur)
        done[n] = true;
    }
    for (id in nodes) {
      var o = nodes[id], extra = '', badge = '';
      id = +id;
      if (mode === 'rev') {
        o.dyn.textContent = !hasGrad(id) ? 'constant: no adjoint'
          : id in shown ? 'adjoint ' + shown[id] : 'adjoint ·';
      } else {
        var passed = e.k === 'fwd' ? id < e.n : step === ev.length - 1 && step > 0;
        o.dyn.textContent = id in shown ? 'tangent ' + shown[id] : passed ? 'tangent 0' : 'tangent ·';
      }
      if (id === cur) { extra = 'cur'; badge = '▶ now'; }
      else if (e.k === 'edge' && id === e.n) { extra = 'recv'; badge = '+= here'; }
      else if (done[id]) { extra = 'done'; badge = '✓'; }
      setClass(o, extra);
      o.badge.textContent = badge;
    }
    for (var k in edges)
      setClass(edges[k], '');
    if (e.k === 'edge' && edges['e' + e.n + '_' + e.from])
      setClass(edges['e' + e.n + '_' + e.from], 'active');
    if (e.k === 'fwd')
      for (k in edges)
        if (k.slice(k.indexOf('_') + 1) === String(e.n) && (+k.slice(1, k.indexOf('_')) in shown))
          setClass(edges[k], 'active');

    $('status').textContent = (mode === 'rev' ? 'Reverse mode' : 'Forward mode, d/d' + data.fwd[seed].label) +
      ': step ' + step + ' of ' + (ev.length - 1) + (step === 0 ? ' (before the sweep)' : '');
    $('now').textContent = e.lines.join('\n').replace(/^\n+|\n+$/g, '');
    var log = $('log');
    log.textContent = '';
    for (i = 0; i <= step; i++)
      ev[i].lines.forEach(function (line) {
        if (line === '')
          return;
        var li = document.createElement('li');
        li.textContent = line;
        li.className = (i === step ? 'cur ' : '') + (ev[i].k === 'node' ? 'node' : '');
        log.appendChild(li);
      });
    log.scrollTop = log.scrollHeight;
    if (nodes[cur])
      reveal(nodes[cur].g);
    $('lesson').textContent = step === ev.length - 1 && step > 0 ? lesson(ev) : '';
    $('play').textContent = timer ? '⏸ Pause' : '▶ Play';
  }

  /* What the finished sweep computed. */
  function lesson(ev) {
    if (mode === 'rev') {
      var ins = [];
      for (var id in nodes)
        if (/\b(input|param)\b/.test(nodes[id].cls))
          ins.push('∂' + f + '/∂' + name(id));
      return 'One backward sweep gave the derivative of ' + f + ' with respect to every input at once (' +
        ins.join(', ') + '): one row of the Jacobian, however many inputs there are.';
    }
    var s = data.fwd[seed];
    return 'One forward sweep gave the derivative of every node with respect to ' + s.label +
      ' alone: one column of the Jacobian.  ∂' + f + '/∂' + s.label + ' = ' + ev[ev.length - 1].show +
      (ev[ev.length - 1].n === data.out ? '' : ' at the last node it reaches') +
      '; every other input needs a sweep of its own.';
  }

  /* Scroll a graph wider than the screen to the node the sweep is at. */
  function reveal(g) {
    var box = $('graphbox'), svg = $('graph');
    if (box.scrollWidth <= box.clientWidth + 1)
      return;
    var bb = g.getBBox(), vb = svg.viewBox.baseVal;
    var scale = svg.getBoundingClientRect().width / vb.width;
    box.scrollLeft = (bb.x - vb.x + bb.width / 2) * scale - box.clientWidth / 2;
  }

  function go(s) {
    var n = events().length;
    step = Math.max(0, Math.min(n - 1, s));
    render();
  }
  function stop() { if (timer) { clearInterval(timer); timer = null; } }
  function play() {
    if (timer) { stop(); render(); return; }
    if (step >= events().length - 1)
      step = 0;
    timer = setInterval(function () {
      if (step >= events().length - 1) { stop(); render(); return; }
      go(step + 1);
    }, 900);
    render();
  }
  function setMode(m) {
    stop();
    mode = m;
    Array.prototype.forEach.call(document.querySelectorAll('input[name=mode]'), function (r) {
      r.checked = r.value === m;
    });
    go(0);
  }

  var sel = $('seed');
  data.fwd.forEach(function (s, i) {
    var o = document.createElement('option');
    o.value = i;
    o.textContent = s.label;
    sel.appendChild(o);
  });
  sel.addEventListener('change', function () { seed = +sel.value; setMode('fwd'); });
  Array.prototype.forEach.call(document.querySelectorAll('input[name=mode]'), function (r) {
    r.addEventListener('change', function () { if (r.checked) setMode(r.value); });
  });
  $('first').addEventListener('click', function () { stop(); go(0); });
  $('prev').addEventListener('click', function () { stop(); go(step - 1); });
  $('next').addEventListener('click', function () { stop(); go(step + 1); });
  $('last').addEventListener('click', function () { stop(); go(Infinity); });
  $('play').addEventListener('click', play);
  document.addEventListener('keydown', function (ev) {
    var t = ev.target && ev.target.tagName;
    if (t === 'INPUT' && ev.target.type === 'text' || t === 'SELECT' || ev.altKey || ev.ctrlKey || ev.metaKey)
      return;
    var k = { ArrowRight: 'next', ArrowLeft: 'prev', Home: 'first', End: 'last' }[ev.key];
    if (k) { $(k).click(); ev.preventDefault(); }
    else if (ev.key === ' ' && t !== 'BUTTON') { play(); ev.preventDefault(); }
  });
  window.addEventListener('beforeprint', function () { stop(); go(Infinity); });

  /* The inputs: the page is fixed, so a change gives the command that
   * writes the page for the new values. */
  var knobs = $('knobs');
  if (knobs) {
    var inputs = knobs.querySelectorAll('input[data-knob]');
    var update = function () {
      var cmd = 'adjoint explain ' + knobs.getAttribute('data-example'), bad = false;
      Array.prototype.forEach.call(inputs, function (inp) {
        var v = inp.value.trim(), ok = v !== '' && isFinite(Number(v));
        inp.setAttribute('aria-invalid', ok ? 'false' : 'true');
        bad = bad || !ok;
        if (ok && Number(v) !== Number(inp.defaultValue))
          cmd += ' --' + inp.getAttribute('data-knob') + ' ' + v;
      });
      $('command').textContent = bad ? 'not a number: fix the marked input' :
        cmd + ' --html ' + knobs.getAttribute('data-example') + '.html';
    };
    Array.prototype.forEach.call(inputs, function (inp) { inp.addEventListener('input', update); });
  }

  /* A graph wider than the page shrinks only so far, to stay legible,
   * and scrolls to the node the sweep is at. */
  var svg = $('graph');
  function fit() {
    var w = +svg.getAttribute('width'), box = svg.parentNode.clientWidth - 2;
    if (w <= box) {
      svg.style.width = svg.style.maxWidth = '';
      return;
    }
    svg.style.maxWidth = 'none';
    svg.style.width = Math.max(box, w * (window.innerWidth < 800 ? 0.62 : 0.8)) + 'px';
  }
  if (svg) {
    fit();
    window.addEventListener('resize', fit);
    window.addEventListener('beforeprint', function () { svg.style.width = ''; svg.style.maxWidth = '100%'; });
    window.addEventListener('afterprint', fit);
  }

  /* The URL fragment: #step=N (reverse), #fwd=S,N (forward from input S,
   * N = end for the last step), #play (press Play), #test=NAME (the
   * browser test's scenario). */
  function key(k) { document.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true })); }
  function selftest(target) {
    var out = [], seen = [], id = data.names.lastIndexOf(target);
    key('Home');
    for (var guard = 0; guard < 10000; guard++) {
      key('ArrowRight');
      seen.push($('now').textContent);
      var e = events()[step];
      if (e.k === 'node' && e.n === id || step === events().length - 1)
        break;
    }
    out.push('reverse step ' + step + ' of ' + (events().length - 1));
    out.push('label: ' + (nodes[id] ? nodes[id].dyn.textContent : '(no node ' + target + ')'));
    out.push('now: ' + $('now').textContent.split('\n').join(' | '));
    seen.forEach(function (t) {
      t.split('\n').forEach(function (l) { if (l.indexOf('contribution') >= 0) out.push('shown: ' + l.trim()); });
    });
    document.querySelector('input[name=mode][value=fwd]').click();
    key('End');
    out.push('forward label: ' + nodes[data.out].dyn.textContent);
    out.push('forward now: ' + $('now').textContent);
    var pre = $('test-out');
    pre.textContent = out.join('\n');
    pre.hidden = false;
  }
  var h = decodeURIComponent(location.hash.slice(1)), m;
  if ((m = /^test=(.+)$/.exec(h)))
    selftest(m[1]);
  else if ((m = /^fwd=(\d+),(\d+|end)$/.exec(h))) {
    seed = Math.min(+m[1], Math.max(0, data.fwd.length - 1));
    sel.value = seed;
    setMode('fwd');
    go(m[2] === 'end' ? Infinity : +m[2]);
  } else if (h === 'play') {
    go(0);
    $('play').click();
  } else if ((m = /^step=(\d+|end)$/.exec(h)))
    go(m[1] === 'end' ? Infinity : +m[1]);
  else
    go(0);
})();
