// faltung explain: draws the maps and writes the formulas from the numbers Python embedded in #data.
// No network, no libraries: plain DOM and canvas, so the page works opened from file:// offline.
"use strict";
(function () {
  var DATA = JSON.parse(document.getElementById("data").textContent);
  var EXAMPLES = DATA.examples;
  var MAX_SIDE = 64;          // output cells drawn per side in the detail view
  var MAX_VECTOR = 4096;      // vector cells drawn in the detail view
  var MAX_TERMS = 36;         // terms written one by one in a formula; more are grouped by channel
  var MAX_FIGURES = 16;       // input channels drawn next to a conv layer's output
  var MAX_GROUPS = 8;         // channels written as partial sums after the listed terms
  var state = { ex: null, entry: null, channel: 0, cell: null };

  // ----- small helpers -----
  function el(tag, props, children) {
    var node = document.createElement(tag);
    props = props || {};
    if (props.cls) node.className = props.cls;
    if (props.text !== undefined) node.textContent = props.text;
    if (props.id) node.id = props.id;
    if (props.attrs) Object.keys(props.attrs).forEach(function (k) { node.setAttribute(k, props.attrs[k]); });
    if (props.style) Object.keys(props.style).forEach(function (k) { node.style[k] = props.style[k]; });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  function decode(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }

  function arr(obj, field) {  // decoded once, kept on the object
    var key = "_" + field;
    if (!obj[key]) obj[key] = decode(obj[field]);
    return obj[key];
  }

  // numbers as the formulas print them: 4 significant digits for terms, 6 for results
  function fmt(v, digits) {
    if (v === 0) return "0";
    if (!isFinite(v)) return String(v);
    return String(Number(v.toPrecision(digits || 4)));
  }
  function par(v, digits) { var s = fmt(v, digits); return v < 0 ? "(" + s + ")" : s; }
  function big(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function shapeText(shape) { return "(" + shape.join(", ") + (shape.length === 1 ? "," : "") + ")"; }
  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  // ----- colours -----
  var VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137],
                 [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];
  var DIVERGING = [[44, 90, 190], [120, 160, 220], [246, 246, 246], [230, 130, 100], [178, 24, 43]];
  var HOT = [[0, 0, 0], [120, 20, 20], [220, 60, 10], [255, 170, 0], [255, 255, 160]];
  function ramp(stops, t) {
    t = clamp(isFinite(t) ? t : 0, 0, 1);
    var x = t * (stops.length - 1), i = Math.min(Math.floor(x), stops.length - 2), f = x - i;
    return [0, 1, 2].map(function (n) { return Math.round(stops[i][n] + (stops[i + 1][n] - stops[i][n]) * f); });
  }
  // one scale per layer: signed values diverge around 0, others run from 0 (silent, dark) to the maximum
  function scaleOf(lo, hi, grey) {
    if (grey) { var span = hi - lo || 1; return function (v) { var g = Math.round(255 * (v - lo) / span); return [g, g, g]; }; }
    if (lo < 0) { var m = Math.max(-lo, hi) || 1; return function (v) { return ramp(DIVERGING, (v / m + 1) / 2); }; }
    var top = hi || 1;
    return function (v) { return ramp(VIRIDIS, v / top); };
  }
  function css(rgb) { return "rgb(" + rgb[0] + "," + rgb[1] + "," + rgb[2] + ")"; }
  function inkOn(rgb) { return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140 ? "#111" : "#fff"; }

  // ----- reading the embedded arrays -----
  function layerScale(entry) { return scaleOf(entry.lo, entry.hi, entry.kind === "input"); }
  function mapValue(entry, i, j, k) {  // undefined where the page holds no value
    var d = arr(entry, "data"), s = entry.shape;
    if (s.length === 3) return k < entry.embedded ? d[(i * s[1] + j) * entry.embedded + k] : undefined;
    return k < entry.embedded ? d[k] : undefined;
  }
  function kernelValue(cv, a, b, k, r) {
    var d = arr(cv, "kernel"), kw = cv.kernel_size[1];
    return d[((a * kw + b) * cv.k_in + k) * cv.k_out + r];
  }

  // ----- drawing -----
  function canvasMap(h, w, get, scale, px, rgb) {  // an (h, w) map as a canvas of px-sized cells
    var c = el("canvas");
    c.width = w; c.height = h;
    c.style.width = (w * px) + "px"; c.style.height = (h * px) + "px";
    var ctx = c.getContext("2d"), img = ctx.createImageData(w, h);
    for (var i = 0; i < h; i++) for (var j = 0; j < w; j++) {
      var v = get(i, j), o = 4 * (i * w + j);
      var col = v === undefined ? [236, 239, 243] : (rgb ? v : scale(v));
      img.data[o] = col[0]; img.data[o + 1] = col[1]; img.data[o + 2] = col[2]; img.data[o + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return c;
  }

  // A map for the detail view, drawn with its zero padding around it. Cells are divs (with values
  // when they fit) when `hook` is given or the map is small; else one canvas. Returns the wrapper
  // and a function placing boxes over input cells (row, col in unpadded coordinates).
  function detailMap(opts) {
    var h = opts.h, w = opts.w, pads = opts.pads || [[0, 0], [0, 0]], px = opts.px;
    var H = h + pads[0][0] + pads[0][1], W = w + pads[1][0] + pads[1][1];
    var wrap = el("div", { cls: "map-wrap" });
    var asGrid = opts.hook || (H <= 16 && W <= 16 && px >= 14);
    if (asGrid) {
      var grid = el("div", { cls: "grid", style: { gridTemplateColumns: "repeat(" + W + ", " + px + "px)",
                                                   gridAutoRows: px + "px" } });
      var numbers = px >= 22 && H <= 16 && W <= 16, longest = 1;
      if (numbers) for (var a0 = 0; a0 < h; a0++) for (var b0 = 0; b0 < w; b0++) {
        var v0 = opts.get(a0, b0);
        if (v0 !== undefined) longest = Math.max(longest, fmt(v0, 3).length);
      }
      var fontPx = Math.min(15, Math.floor(px / (0.62 * longest + 0.5)));  // the longest number fits its cell
      if (fontPx < 8) numbers = false;                                      // ... or no number is written
      for (var a = 0; a < H; a++) for (var b = 0; b < W; b++) {
        var i = a - pads[0][0], j = b - pads[1][0];
        if (i < 0 || j < 0 || i >= h || j >= w) { grid.appendChild(el("div", { cls: "pad", text: numbers ? "0" : "" })); continue; }
        var v = opts.get(i, j), col = v === undefined ? [236, 239, 243] : opts.scale(v);
        var cell = el("div", { cls: opts.hook ? "cell" : "value", text: numbers && v !== undefined ? fmt(v, 3) : "",
                               style: { background: css(col), color: inkOn(col), fontSize: fontPx + "px" } });
        if (opts.hook) {
          cell.setAttribute("data-layer", opts.hook.layer);
          cell.setAttribute("data-i", String(opts.hook.vector ? 0 : i));
          cell.setAttribute("data-j", String(opts.hook.vector ? 0 : j));
          cell.setAttribute("data-c", String(opts.hook.vector ? opts.hook.index(i, j) : opts.hook.c));
        }
        if (v !== undefined) cell.title = (opts.label || "z") + "[" + i + "," + j + "] = " + fmt(v, 6);
        grid.appendChild(cell);
      }
      wrap.appendChild(grid);
    } else {
      wrap.appendChild(canvasMap(H, W, function (a, b) {
        var i = a - pads[0][0], j = b - pads[1][0];
        return (i < 0 || j < 0 || i >= h || j >= w) ? undefined : opts.get(i, j);
      }, opts.scale, px));
    }
    var boxes = [];
    wrap.clearBoxes = function () { boxes.forEach(function (b) { b.remove(); }); boxes = []; };
    wrap.box = function (i, j, cls) {
      var b = el("div", { cls: cls || "tap", style: { left: ((j + pads[1][0]) * px) + "px", top: ((i + pads[0][0]) * px) + "px",
                                                     width: px + "px", height: px + "px" } });
      wrap.appendChild(b); boxes.push(b);
    };
    return wrap;
  }

  function cellPx(side, room, lo, hi) { return clamp(Math.floor(room / side), lo, hi); }

  // ----- the overview -----
  function thumbnails(ex, entry) {
    var box = el("div", { cls: "thumbs" }), s = entry.shape, scale = layerScale(entry);
    if (!entry.embedded) { box.appendChild(el("span", { cls: "more", text: "not drawn" })); return box; }
    if (s.length === 3) {
      var rgb = entry.kind === "input" && s[2] === 3;
      var n = rgb ? 1 : Math.min(entry.embedded, ex.max_maps);
      var px = Math.max(1, Math.floor((rgb || n === 1 ? 96 : 52) / Math.max(s[0], s[1])));
      for (var k = 0; k < n; k++) {
        (function (k) {
          var c = canvasMap(s[0], s[1], rgb ? function (i, j) { return rgbAt(entry, i, j); }
                                           : function (i, j) { return mapValue(entry, i, j, k); }, scale, px, rgb);
          c.title = rgb ? "the image" : entry.key + ", channel " + k;
          c.setAttribute("data-channel", String(k));
          c.addEventListener("click", function (e) { e.stopPropagation(); select(ex, entry, k); });
          box.appendChild(c);
        })(k);
      }
      if (s[2] > n && !rgb) box.appendChild(el("span", { cls: "more", text: "+ " + (s[2] - n) + " more" }));
    } else if (s.length === 1) {
      var strip = canvasMap(1, entry.embedded, function (i, j) { return mapValue(entry, 0, 0, j); }, scale, 1);
      strip.className = "strip";
      strip.style.width = ""; strip.style.height = "";
      box.appendChild(strip);
    }
    return box;
  }

  function rgbAt(entry, i, j) {
    var top = entry.hi > 1.5 ? 255 : 1;
    return [0, 1, 2].map(function (k) { return Math.round(255 * clamp(mapValue(entry, i, j, k) / top, 0, 1)); });
  }

  function sharingText(entry) {
    var cv = entry.conv, ks = cv.kernel_size, s = entry.shape;
    var conv = ks[0] + "·" + ks[1] + "·" + cv.c_in + "·" + s[2] + (cv.use_bias ? " + " + s[2] : "") + " = " + big(entry.params);
    var ratio = entry.params ? cv.dense_params / entry.params : 0;
    return "Parameter sharing: " + conv + " parameters. A Dense layer from the same " + big(cv.dense_inputs) +
      " inputs to the same " + big(cv.dense_outputs) + " outputs would need " + big(cv.dense_inputs) + "·" +
      big(cv.dense_outputs) + (cv.use_bias ? " + " + big(cv.dense_outputs) : "") + " = " + big(cv.dense_params) +
      (ratio ? " (" + big(Math.round(ratio)) + "× as many)" : "") + ".";
  }

  function layerRow(ex, entry) {
    var row = el("div", { cls: "layer", attrs: { "data-key": entry.key } });
    var head = el("div", { cls: "layer-head" }, [
      el("span", { cls: "name", text: entry.kind === "input" ? "input" : entry.key }),
      el("span", { cls: "cls", text: entry.class +
        (entry.activation !== "linear" && entry.kind !== "activation" ? " · " + entry.activation : "") }),
      el("span", { cls: "shape", text: "output " + shapeText(entry.shape) }),
      el("span", { cls: "params", text: big(entry.params) + " parameters" })]);
    row.appendChild(head);
    if (entry.conv) row.appendChild(el("div", { cls: "sharing", text: "a Dense layer would need " + big(entry.conv.dense_params) }));
    row.appendChild(thumbnails(ex, entry));
    row.addEventListener("click", function () { select(ex, entry, 0); });
    entry.row = row;
    return row;
  }

  function predictionBox(ex, first) {
    var p = ex.prediction, box = el("div", { cls: "prediction" });
    var best = p.predicted, label = p.classes[best];
    var pct = p.probabilities ? " (" + (100 * p.values[best]).toFixed(1) + "%)" : " (score " + fmt(p.values[best], 4) + ")";
    box.appendChild(el("p", { id: first ? "prediction" : undefined, text: "Predicted class: " + label + pct }));
    var bars = el("div", { cls: "bars" });
    var top = Math.max.apply(null, p.values.map(Math.abs)) || 1;
    p.values.forEach(function (v, c) {
      var mark = c === best ? "predicted" : "";
      bars.appendChild(el("span", { cls: mark, text: p.classes[c] }));
      bars.appendChild(el("div", {}, [el("div", { cls: "bar " + mark, style: { width: (100 * Math.abs(v) / top) + "%" } })]));
      bars.appendChild(el("span", { cls: mark, text: p.probabilities ? (100 * v).toFixed(1) + "%" : fmt(v, 4) }));
    });
    box.appendChild(el("h3", { text: p.probabilities ? "Class probabilities (the softmax of the last layer)" : "Outputs" }));
    box.appendChild(bars);
    return box;
  }

  function overlay(ex, heat, alpha) {  // the image in grey with a heat map over it, 1 canvas pixel per image pixel
    var img = ex.byKey[ex.input_key], s = img.shape, data = arr({ d: heat }, "d");
    var lo = Infinity, hi = -Infinity;
    for (var i = 0; i < s[0]; i++) for (var j = 0; j < s[1]; j++) {
      var g = grey(img, i, j); lo = Math.min(lo, g); hi = Math.max(hi, g);
    }
    var px = Math.max(1, Math.floor(150 / Math.max(s[0], s[1])));
    return canvasMap(s[0], s[1], function (i, j) {
      var g = (grey(img, i, j) - lo) / ((hi - lo) || 1) * 255;
      if (alpha === 0) return [g, g, g].map(Math.round);
      var h = ramp(HOT, data[i * s[1] + j]);
      return [0, 1, 2].map(function (n) { return Math.round((1 - alpha) * g + alpha * h[n]); });
    }, null, px, true);
  }
  function grey(entry, i, j) {
    var s = entry.shape, sum = 0;
    for (var k = 0; k < s[2]; k++) sum += mapValue(entry, i, j, k);
    return sum / s[2];
  }

  function saliencyBox(ex) {
    var sal = ex.saliency, box = el("div", { cls: "saliency" });
    var names = ex.prediction.classes;
    box.appendChild(el("h3", { text: "Saliency: where the image drives a class score (the logit before the softmax)" }));
    var buttons = el("div", { cls: "buttons" }), pictures = el("div", { cls: "pictures" });
    function show(item) {
      pictures.textContent = "";
      Array.prototype.forEach.call(buttons.children, function (b) { b.classList.toggle("on", b.item === item); });
      pictures.appendChild(el("figure", {}, [overlay(ex, item.input_gradient, 0), el("figcaption", { text: "the image" })]));
      if (item.grad_cam) pictures.appendChild(el("figure", {}, [overlay(ex, item.grad_cam, 0.6),
        el("figcaption", { text: "Grad-CAM over " + sal.layer + ": relu(Σ_k α_k A_k), α_k = mean ∂y/∂A_k" })]));
      pictures.appendChild(el("figure", {}, [overlay(ex, item.input_gradient, 0.6),
        el("figcaption", { text: "input gradient |∂y/∂x| (max over channels)" })]));
    }
    sal.items.forEach(function (item) {
      var mark = item.class === ex.prediction.predicted ? " (predicted)" : item.class === sal.chosen ? " (chosen)" : "";
      var b = el("button", { text: names[item.class] + mark });
      b.item = item;
      b.addEventListener("click", function () { show(item); });
      buttons.appendChild(b);
    });
    box.appendChild(buttons); box.appendChild(pictures);
    show(sal.items[0]);
    return box;
  }

  function renderOverview() {
    var root = document.getElementById("overview"), firstPrediction = true;
    EXAMPLES.forEach(function (ex) {
      ex.byKey = {};
      ex.layers.forEach(function (entry) { ex.byKey[entry.key] = entry; });
      var section = el("section", { cls: "example" }, [el("h2", { text: ex.title })]);
      if (ex.seconds !== undefined) section.appendChild(el("p", { cls: "muted", text: "Model " + ex.model +
        ": one forward pass in float32, written in " + ex.seconds + " s. Click a layer or one of its maps." }));
      ex.layers.forEach(function (entry) { section.appendChild(layerRow(ex, entry)); });
      if (ex.prediction) { section.appendChild(predictionBox(ex, firstPrediction)); firstPrediction = false; }
      if (ex.saliency) section.appendChild(saliencyBox(ex));
      if (ex.notes.length) {
        var list = el("ul");
        ex.notes.forEach(function (n) { list.appendChild(el("li", { text: n })); });
        section.appendChild(el("div", { cls: "notes" }, [el("h3", { text: "Kept small: this page holds only part of some layers" }), list]));
      }
      root.appendChild(section);
    });
  }

  // ----- the detail view -----
  var info = document.getElementById("detail-info"), body = document.getElementById("detail-body");
  var formula = document.getElementById("formula");
  var views = {};   // what the hover handlers outline: {inputs: [{wrap, k}], output: wrap}

  function para(text, cls) { info.appendChild(el("p", { cls: cls, text: text })); }

  function select(ex, entry, channel) {
    state = { ex: ex, entry: entry, channel: channel || 0, cell: null };
    EXAMPLES.forEach(function (e) { e.layers.forEach(function (l) { if (l.row) l.row.classList.toggle("selected", l === entry); }); });
    renderDetail();
  }

  function channelPicker(ex, entry) {
    var s = entry.shape;
    if (s.length !== 3 || entry.embedded < 2) return null;
    var box = el("div", { cls: "thumbs" }), scale = layerScale(entry);
    var n = Math.min(entry.embedded, 64), px = Math.max(1, Math.floor(34 / Math.max(s[0], s[1])));
    for (var k = 0; k < n; k++) (function (k) {
      var c = canvasMap(s[0], s[1], function (i, j) { return mapValue(entry, i, j, k); }, scale, px);
      c.title = "channel " + k;
      if (k === state.channel) c.classList.add("chosen");
      c.addEventListener("click", function () { select(ex, entry, k); });
      box.appendChild(c);
    })(k);
    return el("div", {}, [el("h3", { text: "Output channel (click one): " + state.channel + " of " + s[2] }), box]);
  }

  // the output of `entry` as hoverable cells: channel state.channel of a map, or a vector
  function outputCells(ex, entry, room) {
    var s = entry.shape, scale = layerScale(entry);
    if (!entry.embedded) return el("p", { cls: "muted", text: "This layer's output is not in the page." });
    if (s.length === 3) {
      var h = Math.min(s[0], MAX_SIDE), w = Math.min(s[1], MAX_SIDE), c = state.channel;
      var wrap = detailMap({ h: h, w: w, px: cellPx(Math.max(h, w), room, 4, 44), scale: scale,
                             get: function (i, j) { return mapValue(entry, i, j, c); },
                             hook: { layer: entry.key, c: c } });
      var figure = el("figure", {}, [wrap, el("figcaption", { text: "output " + (entry.kind === "input" ? "x" : "z") +
        "[:, :, " + c + "], " + s[0] + "×" + s[1] + (h < s[0] || w < s[1] ? " (the top-left " + h + "×" + w + " drawn)" : "") })]);
      views.output = wrap;
      return figure;
    }
    var n = Math.min(entry.embedded, MAX_VECTOR), cols = Math.min(n, 32), rows = Math.ceil(n / cols);
    var vwrap = detailMap({ h: rows, w: cols, px: cellPx(cols, room, 8, 40), scale: scale,
                            get: function (i, j) { var u = i * cols + j; return u < n ? mapValue(entry, 0, 0, u) : undefined; },
                            hook: { layer: entry.key, vector: true, index: function (i, j) { return i * cols + j; } } });
    Array.prototype.forEach.call(vwrap.querySelectorAll(".cell"), function (cell) {
      if (Number(cell.getAttribute("data-c")) >= n) cell.remove();  // the last row's empty places
    });
    vwrap.cols = cols;
    views.output = vwrap;
    return el("figure", {}, [vwrap, el("figcaption", { text: "output z[u], u = 0.." + (s[0] - 1) +
      (n < s[0] ? " (the first " + n + " drawn)" : "") + ", row by row, " + cols + " per row" })]);
  }

  // input channel k (with its zero padding); `beside` (a filter slice) is drawn to its right
  function inputFigure(parent, k, pads, px, caption, beside) {
    var s = parent.shape;
    var wrap = detailMap({ h: s[0], w: s[1], pads: pads, px: px, scale: layerScale(parent), label: "x",
                           get: function (i, j) { return mapValue(parent, i, j, k); } });
    var partial = el("div", { cls: "partial" });
    var top = beside ? el("div", { cls: "pair" }, [wrap, beside]) : wrap;
    return { wrap: wrap, k: k, partial: partial, node: el("figure", {}, [top, el("figcaption", { text: caption }), partial]) };
  }

  function kernelGrid(cv, k, r, scale) {
    var ks = cv.kernel_size, px = cellPx(Math.max(ks[0], ks[1]), 150, 6, 46);
    return detailMap({ h: ks[0], w: ks[1], px: px, scale: scale, label: "f",
                       get: function (a, b) { return kernelValue(cv, a, b, k, r); } });
  }

  function renderDetail() {
    var ex = state.ex, entry = state.entry;
    info.textContent = ""; body.textContent = ""; views = { inputs: [] };
    document.getElementById("detail-title").textContent = (entry.kind === "input" ? "input" : entry.key) + " · " +
      entry.class + " · output " + shapeText(entry.shape) + " · " + big(entry.params) + " parameters";
    formula.textContent = "Hover over a cell of the output to see how it is computed.";
    var room = Math.min(420, Math.max(200, (document.getElementById("detail").clientWidth || 700) * 0.45));
    if (entry.kind === "conv" && entry.conv && entry.conv.k_in > 0) convDetail(ex, entry, room);
    else if (entry.pool && !entry.pool.global) poolDetail(ex, entry, room);
    else if (entry.kind === "dense" && entry.dense && entry.dense.units.length) denseDetail(ex, entry, room);
    else otherDetail(ex, entry, room);
  }

  function convDetail(ex, entry, room) {
    var cv = entry.conv, parent = ex.byKey[entry.parents[0]], r = state.channel, ks = cv.kernel_size;
    para("z[i,j,r] = Σ_{i',j',k} x[s·i + d·i' − p, s·j + d·j' − p, k] · f[i',j',k,r] + b[r]   " +
         "(the lecture's convolutional layer)", "formula-rule");
    para("kernel " + ks[0] + "×" + ks[1] + ", stride s = " + cv.strides.join("×") + ", dilation d = " + cv.dilation.join("×") +
         ", padding '" + cv.padding + "' (zeros: top " + cv.pads[0][0] + ", bottom " + cv.pads[0][1] + ", left " + cv.pads[1][0] +
         ", right " + cv.pads[1][1] + "), activation " + entry.activation + "; input " + parent.key + " " + shapeText(parent.shape));
    para(sharingText(entry), "muted");
    var picker = channelPicker(ex, entry);
    if (picker) body.appendChild(picker);
    var nfig = Math.min(cv.k_in, MAX_FIGURES), s = parent.shape;
    var side = Math.max(s[0] + cv.pads[0][0] + cv.pads[0][1], s[1] + cv.pads[1][0] + cv.pads[1][1]);
    // one small input (the lecture's) gets cells big enough for its numbers
    var px = cellPx(side, nfig > 4 ? room * 0.4 : nfig > 1 ? room * 0.55 : side <= 16 ? room * 0.9 : room * 0.75, 2, 34);
    var inputs = el("div", { cls: "inputs" }), kscale = kernelScale(cv);
    for (var k = 0; k < nfig; k++) {
      var padded = cv.pads[0][0] + cv.pads[0][1] + cv.pads[1][0] + cv.pads[1][1] > 0;
      var fig = inputFigure(parent, k, cv.pads, px, "x[:, :, " + k + "]" + (padded ? " (zero padding hatched)" : "") +
                            "  ·  filter f[:, :, " + k + ", " + r + "]",
                            kernelGrid(cv, k, r, kscale));
      views.inputs.push(fig);
      inputs.appendChild(fig.node);
    }
    // the output first, under the formula it explains; beside it (or below) what it sums over
    body.appendChild(el("h3", { text: "Output channel " + r + " (hover a cell) = Σ over the input channels x[:, :, k] of their window · the filter " +
      "slice f[:, :, k, " + r + "], + bias b[" + r + "] = " + (cv.use_bias ? fmt(cv.bias[r], 6) : "0 (no bias)") + ", then " + entry.activation +
      (cv.c_in > nfig ? " (the first " + nfig + " of " + cv.c_in + " input channels drawn)" : "") }));
    var output = outputCells(ex, entry, Math.min(room, side <= 16 ? 260 : 300));
    body.appendChild(el("div", { cls: "flow" }, [output, el("span", { cls: "op", text: "=" }), inputs]));
  }

  function kernelScale(cv) {
    if (!cv._scale) {
      var d = arr(cv, "kernel"), m = 0;
      for (var i = 0; i < d.length; i++) m = Math.max(m, Math.abs(d[i]));
      cv._scale = scaleOf(-m, m, false);
    }
    return cv._scale;
  }

  function poolDetail(ex, entry, room) {
    var pl = entry.pool, parent = ex.byKey[entry.parents[0]], c = state.channel, s = parent.shape;
    var max = entry.kind === "max_pool";
    para(max ? "z[i,j,c] = max over the window of x[s·i + i' − p, s·j + j' − p, c]   (padding never wins)"
             : "z[i,j,c] = mean of the window's real cells x[s·i + i' − p, s·j + j' − p, c]   (padding is not counted)", "formula-rule");
    para("pool " + pl.pool_size.join("×") + ", stride " + pl.strides.join("×") + ", padding '" + pl.padding + "'; no parameters; input " +
         parent.key + " " + shapeText(s));
    var picker = channelPicker(ex, entry);
    if (picker) body.appendChild(picker);
    var side = Math.max(s[0] + pl.pads[0][0] + pl.pads[0][1], s[1] + pl.pads[1][0] + pl.pads[1][1]);
    var flow = el("div", { cls: "flow" });
    if (c < parent.embedded) {
      var fig = inputFigure(parent, c, pl.pads, cellPx(side, room, 2, 40), "input x[:, :, " + c + "]");
      views.inputs.push(fig);
      flow.appendChild(fig.node);
    }
    flow.appendChild(el("span", { cls: "op", text: "→" }));
    flow.appendChild(outputCells(ex, entry, room * 0.8));
    body.appendChild(flow);
  }

  function denseDetail(ex, entry, room) {
    var d = entry.dense, parent = ex.byKey[entry.parents[0]];
    para("z[u] = Σ_k x[k] · W[k,u] + b[u], then " + entry.activation +
         (entry.softmax ? ": p[u] = exp(z[u]) / Σ_j exp(z[j])" : ""), "formula-rule");
    para("input " + parent.key + " " + shapeText(parent.shape) + ": " + big(d.n_in) + " values, each unit one weight per input");
    body.appendChild(el("h3", { text: "Units (hover one; the table lists its largest terms x·w)" }));
    body.appendChild(outputCells(ex, entry, room));
    var table = el("div");
    views.table = table;
    body.appendChild(table);
    var u = (ex.prediction && entry.key === ex.output_key) ? ex.prediction.predicted : 0;
    showCell(0, 0, u);
  }

  function otherDetail(ex, entry, room) {
    var parent = entry.parents.length ? ex.byKey[entry.parents[0]] : null;
    var rules = {
      scale: entry.class === "Rescaling" ? "z = x·a + b with a = scale, b = offset"
                                         : "z = x·a + b per channel, a = γ/√(var + ε), b = β − mean·a (inference mode)",
      activation: "z = " + entry.activation + "(x), value by value",
      copy: entry.class === "Dropout" ? "z = x: Dropout passes every value through at inference" : "z = x in a new shape (channels-last order)",
      sum: "z = the sum of the inputs, value by value",
      input: "x: the image as the first layer receives it"
    };
    para(rules[entry.kind] || ("z: what " + entry.class + " computes (no formula written for this layer)"), "formula-rule");
    if (parent) para("input " + parent.key + " " + shapeText(parent.shape));
    var picker = channelPicker(ex, entry);
    if (picker) body.appendChild(picker);
    var flow = el("div", { cls: "flow" });
    if (parent && parent.shape.length === 3 && entry.shape.length === 3 && state.channel < parent.embedded) {
      var s = parent.shape, fig = inputFigure(parent, state.channel, null, cellPx(Math.max(s[0], s[1]), room * 0.8, 2, 40),
                                            "input x[:, :, " + state.channel + "]");
      views.inputs.push(fig);
      flow.appendChild(fig.node);
      flow.appendChild(el("span", { cls: "op", text: "→" }));
    }
    flow.appendChild(outputCells(ex, entry, room));
    body.appendChild(flow);
  }

  // ----- formulas -----
  function lhs(entry, i, j, c) {
    return (entry.kind === "input" ? "x" : "z") + (entry.shape.length === 3 ? "[" + i + "," + j + "," + c + "]" : "[" + c + "]");
  }
  function valueAt(entry, i, j, c) { return entry.shape.length === 3 ? mapValue(entry, i, j, c) : mapValue(entry, 0, 0, c); }
  function activated(entry, pre, value, text) {  // the sum, then the activation: the text ends with the value
    if (entry.activation === "linear") return text + " = " + fmt(value, 6);
    return text + " = " + fmt(pre, 6) + "\n" + entry.activation + "(" + fmt(pre, 6) + ") = " + fmt(value, 6);
  }

  function convFormula(ex, entry, i, j, r) {
    var cv = entry.conv, parent = ex.byKey[entry.parents[0]], s = parent.shape;
    var rows = cv.rows[i], cols = cv.cols[j], terms = [], sums = [];
    for (var k = 0; k < cv.k_in; k++) {
      sums.push(0);
      for (var a = 0; a < rows.length; a++) for (var b = 0; b < cols.length; b++) {
        var inside = rows[a] >= 0 && rows[a] < s[0] && cols[b] >= 0 && cols[b] < s[1];
        var x = inside ? mapValue(parent, rows[a], cols[b], k) : 0, w = kernelValue(cv, a, b, k, r);
        terms.push({ k: k, x: x, w: w, p: x * w });
        sums[k] += x * w;
      }
    }
    var pre = arr(cv, "pre")[(i * entry.shape[1] + j) * cv.k_out + r], bias = cv.use_bias ? cv.bias[r] : 0;
    var listed = terms.length <= MAX_TERMS ? terms.length : 0, perChannel = rows.length * cols.length;
    if (!listed) listed = Math.max(1, Math.floor(MAX_TERMS / perChannel)) * perChannel;
    listed = Math.min(listed, terms.length);
    var parts = terms.slice(0, listed).map(function (t) { return par(t.x) + "·" + par(t.w); });
    var kDone = Math.ceil(listed / perChannel), groups = 0, listedSum = 0;
    terms.slice(0, listed).forEach(function (t) { listedSum += t.p; });
    for (var k2 = kDone; k2 < cv.k_in && groups < MAX_GROUPS; k2++, groups++) {
      parts.push("[k=" + k2 + ": " + fmt(sums[k2]) + "]");
      listedSum += sums[k2];
    }
    var firstRest = kDone + groups;
    if (firstRest < cv.c_in) {  // the other channels (some may not be in the page): pre − b − what is listed
      parts.push("[k=" + firstRest + ".." + (cv.c_in - 1) + ": " + fmt(pre - bias - listedSum) + "]");
    }
    var text = "z[" + i + "," + j + "," + r + "] = Σ x·f" + (cv.use_bias ? " + b" : "") + " = " + parts.join(" + ") +
      (cv.use_bias ? " + " + par(bias) : "");
    views.inputs.forEach(function (fig) { fig.partial.textContent = "Σ over this window: " + fmt(sums[fig.k]); });
    return activated(entry, pre, valueAt(entry, i, j, r), text);
  }

  function poolFormula(ex, entry, i, j, c) {
    var pl = entry.pool, parent = ex.byKey[entry.parents[0]], s = parent.shape, vals = [], win = -1;
    var value = valueAt(entry, i, j, c);
    pl.rows[i].forEach(function (a) { pl.cols[j].forEach(function (b) {
      if (a >= 0 && a < s[0] && b >= 0 && b < s[1]) {
        var v = mapValue(parent, a, b, c);
        if (v !== undefined && (win < 0 || v > vals[win].v)) win = vals.length;  // the first maximum wins
        vals.push({ v: v, a: a, b: b });
      }
    }); });
    state.winner = win >= 0 ? vals[win] : null;
    var head = "z[" + i + "," + j + "," + c + "] = ";
    if (vals.some(function (t) { return t.v === undefined; })) return head + fmt(value, 6);
    if (entry.kind === "max_pool") {
      var listed = vals.length <= MAX_TERMS ? vals.map(function (t, n) { return n === win ? "[" + fmt(t.v) + "]" : fmt(t.v); }).join(", ")
                                            : vals.length + " cells";
      return head + "max(" + listed + ") = x[" + vals[win].a + "," + vals[win].b + "," + c + "] = " + fmt(value, 6);
    }
    var sum = 0;
    vals.forEach(function (t) { sum += t.v; });
    var inner = vals.length <= MAX_TERMS ? vals.map(function (t) { return par(t.v); }).join(" + ") : "sum of " + vals.length + " cells";
    return head + "(" + inner + ") / " + vals.length + " = " + fmt(sum, 6) + " / " + vals.length + " = " + fmt(value, 6);
  }

  function globalPoolFormula(ex, entry, c) {
    var parent = ex.byKey[entry.parents[0]], s = parent.shape, value = valueAt(entry, 0, 0, c);
    var what = entry.kind === "max_pool" ? "max" : "mean";
    return "z[" + c + "] = " + what + " over the " + s[0] + "×" + s[1] + " cells of x[:, :, " + c + "] = " + fmt(value, 6);
  }

  function denseFormula(ex, entry, u) {
    var d = entry.dense, unit = d.units[u], value = valueAt(entry, 0, 0, u);
    if (!unit) return "z[" + u + "] = " + fmt(value, 6) + "   (this unit's terms are not in the page)";
    var parts = unit.top.map(function (t) { return par(t[1]) + "·" + par(t[2]); });
    if (unit.n > unit.top.length) parts.push("[the other " + (unit.n - unit.top.length) + " terms: " + fmt(unit.rest) + "]");
    var text = "z[" + u + "] = Σ_k x[k]·W[k," + u + "] + b = " + parts.join(" + ") + " + " + par(unit.bias);
    renderTerms(entry, unit);
    if (entry.softmax && entry.activation === "softmax") {
      var pres = d.units.map(function (t) { return t.pre; }), m = Math.max.apply(null, pres), total = 0;
      var shift = m > 80 ? m : 0;  // exp(z) would overflow: write the (equal) shifted form
      pres.forEach(function (z) { total += Math.exp(z - shift); });
      var num = shift ? "exp(" + fmt(unit.pre, 6) + " − " + fmt(shift, 6) + ")" : "exp(" + fmt(unit.pre, 6) + ")";
      return text + " = " + fmt(unit.pre, 6) + "\np[" + u + "] = exp(z[" + u + "]) / Σ_j exp(z[j]" + (shift ? " − max z" : "") + ") = " +
        num + " / " + fmt(total, 6) + " = " + fmt(value, 6);
    }
    return activated(entry, unit.pre, value, text);
  }

  function renderTerms(entry, unit) {
    var box = views.table;
    if (!box) return;
    box.textContent = "";
    var heads = ["k", "x[k]", "W[k,u]", "x·w"].map(function (t) { return el("th", { text: t }); });
    var table = el("table", { cls: "terms" }, [el("tr", {}, heads)]);
    unit.top.forEach(function (t) {
      table.appendChild(el("tr", {}, [el("td", { text: String(t[0]) }), el("td", { text: fmt(t[1]) }), el("td", { text: fmt(t[2]) }),
        el("td", { cls: t[3] >= 0 ? "pos" : "neg", text: fmt(t[3]) })]));
    });
    box.appendChild(el("h3", { text: "Unit " + unit.u + ": its " + unit.top.length + " largest terms of " + unit.n +
      " (the rest add up to " + fmt(unit.rest) + "), bias " + fmt(unit.bias) }));
    box.appendChild(table);
  }

  function otherFormula(ex, entry, i, j, c) {
    var value = valueAt(entry, i, j, c), head = lhs(entry, i, j, c), parent = entry.parents.length ? ex.byKey[entry.parents[0]] : null;
    if (entry.kind === "scale" && parent) {
      var x = valueAt(parent, i, j, c), sc = entry.scale;  // a and b per channel: the last axis
      if (x !== undefined && c < sc.a.length)
        return head + " = x·a + b = " + par(x) + "·" + par(sc.a[c]) + " + " + par(sc.c[c]) + " = " + fmt(value, 6);
    }
    if (entry.kind === "activation" && parent) {
      var xa = valueAt(parent, i, j, c);
      if (xa !== undefined)
        return head + " = " + entry.activation + "(x" + head.slice(1) + ") = " + entry.activation + "(" + fmt(xa, 6) + ") = " + fmt(value, 6);
    }
    if (entry.kind === "copy" && parent) {
      var flat = entry.shape.length === 3 ? (i * entry.shape[1] + j) * entry.shape[2] + c : c, ps = parent.shape, pos = [], rest = flat;
      for (var n = ps.length - 1; n >= 0; n--) { pos.unshift(rest % ps[n]); rest = Math.floor(rest / ps[n]); }
      var xv = ps.length === 3 ? mapValue(parent, pos[0], pos[1], pos[2]) : mapValue(parent, 0, 0, pos[0]);
      if (xv !== undefined) return head + " = x[" + pos.join(",") + "] = " + fmt(value, 6);
    }
    if (entry.kind === "sum") {
      var xs = entry.parents.map(function (p) { return valueAt(ex.byKey[p], i, j, c); });
      if (xs.every(function (v) { return v !== undefined; }))
        return head + " = " + entry.parents.join(" + ") + " = " + xs.map(function (v) { return par(v); }).join(" + ") + " = " + fmt(value, 6);
    }
    if (entry.pool && entry.pool.global && parent) return globalPoolFormula(ex, entry, c);
    return head + " = " + fmt(value, 6);
  }

  // outline the window of output cell (i, j, c) on the input figures, and the cell itself
  function outline(entry, i, j, c) {
    views.inputs.forEach(function (fig) { fig.wrap.clearBoxes(); });
    if (views.output) views.output.clearBoxes();
    var geo = entry.conv || (entry.pool && !entry.pool.global ? entry.pool : null);
    views.inputs.forEach(function (fig) {
      if (geo) {
        geo.rows[i].forEach(function (a) { geo.cols[j].forEach(function (b) { fig.wrap.box(a, b); }); });
        if (entry.pool && state.winner) fig.wrap.box(state.winner.a, state.winner.b, "tap winner");
      } else if (entry.shape.length === 3) {
        fig.wrap.box(i, j);
      }
    });
    if (views.output) {
      if (entry.shape.length === 3) views.output.box(i, j, "here");
      else views.output.box(Math.floor(c / views.output.cols), c % views.output.cols, "here");
    }
  }

  function showCell(i, j, c) {
    var ex = state.ex, entry = state.entry, text;
    state.cell = [i, j, c]; state.winner = null;
    if (entry.kind === "conv" && entry.conv && entry.conv.k_in > 0) text = convFormula(ex, entry, i, j, c);
    else if (entry.pool && !entry.pool.global) text = poolFormula(ex, entry, i, j, c);
    else if (entry.kind === "dense" && entry.dense && entry.dense.units.length) text = denseFormula(ex, entry, c);
    else text = otherFormula(ex, entry, i, j, c);
    formula.textContent = text;
    outline(entry, i, j, c);
  }

  document.getElementById("detail-body").addEventListener("mouseover", function (e) {
    var cell = e.target.closest ? e.target.closest(".cell") : null;
    if (!cell || !state.entry || cell.getAttribute("data-layer") !== state.entry.key) return;
    showCell(Number(cell.getAttribute("data-i")), Number(cell.getAttribute("data-j")), Number(cell.getAttribute("data-c")));
  });

  // ----- start: #layer=NAME&c=R&cell=I,J opens a layer (and a cell) directly -----
  function find(key) {
    for (var e = 0; e < EXAMPLES.length; e++) if (EXAMPLES[e].byKey[key]) return [EXAMPLES[e], EXAMPLES[e].byKey[key]];
    return null;
  }
  function fromHash() {
    var params = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (p) {
      var kv = p.split("="); if (kv[0]) params[kv[0]] = decodeURIComponent(kv[1] || "");
    });
    var found = params.layer ? find(params.layer) : null;
    if (!found) return false;
    select(found[0], found[1], Number(params.c || 0));
    if (params.cell) {
      var ij = params.cell.split(",").map(Number);
      showCell(ij[0] || 0, ij[1] || 0, found[1].shape.length === 3 ? state.channel : (ij[2] || 0));
    }
    return true;
  }

  renderOverview();
  if (!fromHash()) {
    var first = null;
    EXAMPLES.forEach(function (ex) { ex.layers.forEach(function (l) { if (!first && l.kind === "conv") first = [ex, l]; }); });
    if (!first) first = [EXAMPLES[0], EXAMPLES[0].layers[Math.min(1, EXAMPLES[0].layers.length - 1)]];
    select(first[0], first[1], 0);
  }
  window.addEventListener("hashchange", fromHash);
})();
