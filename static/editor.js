/* Koppel flow editor: drawflow canvas <-> flow document, palette drag-and-drop, node forms via htmx. */
(function () {
  "use strict";
  const el = document.getElementById("drawflow");
  if (!el || typeof Drawflow === "undefined") return;
  const flowId = el.dataset.flowId;
  const types = JSON.parse(el.dataset.types || "{}");
  const original = JSON.parse(el.dataset.document || "{}");
  let problems = JSON.parse(el.dataset.problems || "[]");
  const words = JSON.parse(el.dataset.words || "{}");  // the few words summaries and wires need, in the page's language
  const opText = JSON.parse(el.dataset.operators || "{}");
  function w(key, fallback) { return words[key] || fallback; }
  const NO_VALUE = new Set(["is_set", "not_set", "not_empty", "is_empty"]);
  const csrf = (JSON.parse(document.body.getAttribute("hx-headers") || "{}"))["X-CSRF-Token"] || "";

  const editor = new Drawflow(el);
  editor.reroute = false;
  editor.force_first_input = false;
  editor.zoom_min = 0.2;
  editor.start();
  window.koppelEditor = editor;

  const byDocId = {};
  let selected = null;
  let dirty = false;

  function esc(s) {
    const d = document.createElement("div");
    d.textContent = s == null ? "" : String(s);
    return d.innerHTML;
  }
  // a one-line summary of a step's settings ("status is processing or completed")
  function showValue(v) {
    if (Array.isArray(v)) return v.map(showValue).join(" " + w("or", "or") + " ");
    if (v && typeof v === "object") return "…";
    return String(v);
  }
  function ruleText(r) {
    if (r.all || r.any) return groupText(r);
    const op = opText[r.op] || r.op || "";
    return [r.field, op, r.value === undefined ? "" : showValue(r.value)].filter(function (x) { return x !== ""; }).join(" ");
  }
  function groupText(g) {
    const items = g.all || g.any || [];
    const joined = items.map(ruleText).join(" " + (g.any ? w("or", "or") : w("and", "and")) + " ");
    return items.length > 1 && g !== undefined ? joined : joined;
  }
  function summary(config) {
    if (!config || typeof config !== "object") return "";
    if (config.conditions) return groupText(config.conditions);
    if (Array.isArray(config.routes)) return config.routes.map(function (r) { return r && r.output; }).filter(Boolean).join(" · ");
    if (Array.isArray(config.statuses) && config.statuses.length) return w("status is", "status is") + " " + showValue(config.statuses);
    if (Array.isArray(config.fields)) return config.fields.length + " " + w("fields", "fields");
    const parts = [];
    Object.keys(config).forEach(function (k) {
      const v = config[k];
      if (k === "connection" || k === "label" || v === null || v === "" || typeof v === "object") return;
      parts.push(k.replace(/_/g, " ") + ": " + v);
    });
    if (parts.length) return parts.slice(0, 2).join(" · ");
    if (config.connection) return w("via", "via") + " " + config.connection;
    return "";
  }
  function nodeHtml(docId, type, config, label) {
    const t = types[type];
    label = label || (config && typeof config.label === "string" ? config.label : "");
    const text = summary(config);
    return '<div class="node-box"><div class="node-kind">' + esc(t ? t.kind_label || t.kind : "?") + "</div>" +
      '<div class="node-title">' + esc(label || (t ? t.title : type)) + "</div>" +
      (label ? '<div class="node-type">' + esc(t ? t.title : type) + "</div>" : "") +
      '<div class="node-summary"' + (text ? ' title="' + esc(text) + '"' : "") + ">" + esc(text) + "</div>" +
      '<div class="node-problem" hidden></div>' +
      '<div class="node-id">' + esc(docId) + "</div></div>";
  }
  function redraw(id) {
    const n = nodes()[id];
    const content = document.querySelector("#node-" + id + " .drawflow_content_node");
    if (!n || !content) return;
    content.innerHTML = nodeHtml(n.data.doc_id, n.data.type, configOf(n), n.data.label);
    const t = types[n.data.type];
    const box = document.getElementById("node-" + id);
    box.dataset.docId = n.data.doc_id;
    box.setAttribute("aria-label", (labelOf(n) || (t ? t.title : n.data.type)) + " (" + n.data.doc_id + ")");
    editor.drawflow.drawflow.Home.data[id].html = content.innerHTML;
    reshapePorts(id);
  }
  function nodes() { return editor.drawflow.drawflow.Home.data; }
  // drawflow binds data keys to df-* attributes, so the config travels as a JSON string (its keys may hold ':').
  function configOf(n) { try { return JSON.parse(n.data.config_json || "{}"); } catch (err) { return {}; } }
  function labelOf(n) { const c = configOf(n); return n.data.label || (typeof c.label === "string" ? c.label : ""); }
  // --- ports: a step's outputs are its type's, after the ones its config names (a router's outputs);
  // drawflow numbers them output_1, output_2, … in this order
  function portsOf(type, config) {
    const t = types[type];
    if (!t) return [{ name: "out", title: "" }];
    let named = [];
    const items = t.ports_field && config ? config[t.ports_field] : null;
    if (Array.isArray(items)) {
      named = items.map(function (r) { return r && typeof r.output === "string" ? r.output.trim() : ""; })
        .filter(Boolean).map(function (name) { return { name: name, title: name }; });
    }
    return named.concat(t.outputs);
  }
  function portNames(id) {
    const n = nodes()[id];
    return n ? portsOf(n.data.type, configOf(n)).map(function (p) { return p.name; }) : [];
  }
  const shownPorts = {};  // drawflow id -> the port names its outputs stand for now
  function labelPorts(id) {
    const n = nodes()[id];
    const box = document.getElementById("node-" + id);
    if (!n || !box) return;
    const ports = portsOf(n.data.type, configOf(n));
    shownPorts[id] = ports.map(function (p) { return p.name; });
    const many = ports.length > 1;
    box.querySelectorAll(":scope > .outputs > .output").forEach(function (o, i) {
      const port = ports[i];
      if (!port) return;
      o.dataset.port = port.name;
      if (many) {
        o.dataset.label = port.title || port.name;
        o.setAttribute("role", "img");  // a labelled point a wire is drawn from (with the mouse)
        o.setAttribute("aria-label", w("Output", "Output") + " " + (port.title || port.name) + " · " + nameOf(id));
        o.title = port.title || port.name;
      } else {
        delete o.dataset.label;
        o.removeAttribute("role");
        o.removeAttribute("aria-label");
        o.removeAttribute("title");
      }
    });
    box.classList.toggle("has-ports", many);
  }
  // after a router's outputs changed: as many drawflow outputs as ports, wires kept by port name
  function reshapePorts(id) {
    const n = nodes()[id];
    if (!n) return;
    const before = shownPorts[id] || [];
    const after = portNames(id);
    const have = Object.keys(n.outputs || {}).length;
    if (have !== after.length) {
      const wires = [];
      before.forEach(function (name, i) {
        const o = n.outputs["output_" + (i + 1)];
        if (o) o.connections.forEach(function (c) { wires.push([name, c.node, c.output]); });
      });
      const was = loading;
      loading = true;
      try {
        for (let k = have; k >= 1; k--) editor.removeNodeOutput(id, "output_" + k);
        for (let k = 0; k < after.length; k++) editor.addNodeOutput(id);
        wires.forEach(function (wire) {
          const at = after.indexOf(wire[0]);
          if (at >= 0) { try { editor.addConnection(id, wire[1], "output_" + (at + 1), wire[2]); } catch (err) { /* gone */ } }
        });
      } finally {
        loading = was;
      }
    }
    labelPorts(id);
  }
  function addNode(docId, type, config, x, y, extra) {
    const t = types[type];
    const ins = t ? t.inputs.length : 1;
    const outs = portsOf(type, config || {}).length;
    const data = Object.assign({ doc_id: docId, type: type, config_json: JSON.stringify(config || {}) }, extra || {});
    if (!data.version) data.version = t ? t.version : 1;
    const id = editor.addNode(type, ins, outs, x, y, "kind-" + (t ? t.kind : "unknown"), data,
      nodeHtml(docId, type, config, data.label));
    byDocId[docId] = id;
    const box = document.getElementById("node-" + id);
    if (box) { box.dataset.docId = docId; box.setAttribute("aria-label", (labelOf({ data: data }) || (t ? t.title : type)) + " (" + docId + ")"); }
    labelPorts(id);
    return id;
  }
  function freshId(type) {
    const base = (type.split(".").pop() || "step").replace(/[^A-Za-z0-9_-]/g, "_");
    if (!byDocId[base]) return base;
    let i = 2;
    while (byDocId[base + "_" + i]) i++;
    return base + "_" + i;
  }

  // --- load a document onto the canvas (at start, and for undo/redo)
  let loading = false;
  function extraOf(n) {
    const extra = {};
    if (typeof n.label === "string" && n.label) extra.label = n.label;
    if (n.merge === true) extra.merge = true;
    extra.version = Number.isInteger(n.version) ? n.version : 1;  // saved before versions: version 1
    return extra;
  }
  function loadDocument(doc) {
    loading = true;
    try {
      editor.clear();
      Object.keys(byDocId).forEach(function (k) { delete byDocId[k]; });
      (doc.nodes || []).forEach(function (n, i) {
        const p = Array.isArray(n.position) ? n.position : [60 + i * 240, 120];
        addNode(String(n.id), n.type, n.config, p[0], p[1], extraOf(n));
      });
      (doc.edges || []).forEach(function (e) {
        const a = byDocId[e.from], b = byDocId[e.to];
        if (!a || !b) return;
        // a wire saved before ports leaves by the step's first output
        const at = e.from_port ? portNames(a).indexOf(e.from_port) : 0;
        if (at < 0) return;  // an output the step does not have: validation names it on the step
        try { editor.addConnection(a, b, "output_" + (at + 1), "input_1"); } catch (err) { /* invalid edge: shown by validation */ }
      });
    } finally {
      loading = false;
    }
    decorateWires();
    emptyHint();
  }

  function toDocument() {
    const data = editor.export().drawflow.Home.data;
    const idOf = {};
    Object.values(data).forEach(function (n) { idOf[n.id] = n.data.doc_id; });
    const outNodes = [], edges = [];
    Object.values(data).forEach(function (n) {
      const out = { id: n.data.doc_id, type: n.data.type, config: configOf(n), position: [Math.round(n.pos_x), Math.round(n.pos_y)] };
      if (n.data.label) out.label = n.data.label;
      if (n.data.merge) out.merge = true;
      const t = types[n.data.type];
      out.version = Number(n.data.version) || (t ? t.version : 1);
      outNodes.push(out);
      const ports = portNames(n.id);
      Object.keys(n.outputs || {}).forEach(function (key) {
        const port = ports[Number(key.slice("output_".length)) - 1];
        n.outputs[key].connections.forEach(function (c) {
          const target = data[c.node];
          const inputs = target && types[target.data.type] ? types[target.data.type].inputs : [];
          edges.push({ from: n.data.doc_id, from_port: port || key, to: idOf[c.node], to_port: inputs.length ? inputs[0].name : "in" });
        });
      });
    });
    return Object.assign({}, original, { format: original.format || "koppel.flow/1", nodes: outNodes, edges: edges });
  }
  function syncHidden() {
    const json = JSON.stringify(toDocument());
    document.querySelectorAll('#save-form input[name="document"], #test-form input[name="document"]').forEach(function (i) { i.value = json; });
  }
  const unsaved = document.getElementById("unsaved");
  function setDirty(value) { dirty = value; if (unsaved) unsaved.hidden = !value; }

  // --- undo / redo: snapshots of the document; typing in one field within a moment is one step
  const history = { past: [], future: [], current: null, at: 0 };
  function snapshot(coalesce) {
    const json = JSON.stringify(toDocument());
    if (json === history.current) return;
    const now = Date.now();
    if (!(coalesce && history.coalesce && now - history.at < 1200) && history.current !== null) history.past.push(history.current);
    if (history.past.length > 100) history.past.shift();
    history.current = json;
    history.future = [];
    history.at = now;
    history.coalesce = !!coalesce;
  }
  function restore(json) {
    history.current = json;
    history.coalesce = false;
    const keep = selected && nodes()[selected] ? nodes()[selected].data.doc_id : null;
    selected = null;
    loadDocument(JSON.parse(json));
    setDirty(true);
    syncHidden();
    markProblems();
    if (keep && byDocId[keep]) loadForm(byDocId[keep]);
    else document.getElementById("node-form").innerHTML = '<p class="muted">' + esc(el.dataset.emptyText || "") + "</p>";
  }
  function undo() { if (history.past.length) { history.future.push(history.current); restore(history.past.pop()); } }
  function redo() { if (history.future.length) { history.past.push(history.current); restore(history.future.pop()); } }
  function changed(coalesce) {
    if (loading) return;
    setDirty(true);
    syncHidden();
    snapshot(coalesce === true);
    decorateWires();
    emptyHint();
  }

  // --- wires: focusable, selectable by click or keyboard, removable with Delete / Backspace
  let selectedWire = null;
  // a wire's svg classes name its ends: [output node id, input node id, output class, input class]
  function wireEnds(svg) {
    const cls = Array.from(svg.classList);
    const input = cls.find(function (c) { return c.startsWith("node_in_node-"); });
    const output = cls.find(function (c) { return c.startsWith("node_out_node-"); });
    const outClass = cls.find(function (c) { return /^output_\d+$/.test(c); }) || "output_1";
    const inClass = cls.find(function (c) { return /^input_\d+$/.test(c); }) || "input_1";
    return input && output ? [output.slice("node_out_node-".length), input.slice("node_in_node-".length), outClass, inClass] : null;
  }
  function portLabel(id, outClass) {
    const n = nodes()[id];
    if (!n) return "";
    const ports = portsOf(n.data.type, configOf(n));
    const port = ports.length > 1 ? ports[Number(outClass.slice("output_".length)) - 1] : null;
    return port ? " (" + (port.title || port.name) + ")" : "";
  }
  function nameOf(id) {
    const n = nodes()[id];
    if (!n) return "";
    const t = types[n.data.type];
    return labelOf(n) || (t ? t.title : n.data.type);
  }
  function decorateWires() {
    el.querySelectorAll("svg.connection").forEach(function (svg) {
      const ends = wireEnds(svg);
      if (!ends) return;
      svg.setAttribute("tabindex", "0");
      svg.setAttribute("role", "button");
      svg.setAttribute("focusable", "true");
      svg.setAttribute("aria-label", w("Wire from", "Wire from") + " " + nameOf(ends[0]) + portLabel(ends[0], ends[2]) + " " + w("to", "to") + " " + nameOf(ends[1]));
    });
  }
  function selectWire(svg) {
    clearWire();
    selectedWire = svg;
    svg.classList.add("is-selected");
    svg.setAttribute("aria-pressed", "true");
    const path = svg.querySelector(".main-path");
    if (path) path.classList.add("selected");
  }
  function clearWire() {
    el.querySelectorAll("svg.connection.is-selected").forEach(function (svg) {
      svg.classList.remove("is-selected");
      svg.setAttribute("aria-pressed", "false");
      const path = svg.querySelector(".main-path");
      if (path) path.classList.remove("selected");
    });
    selectedWire = null;
    editor.connection_selected = null;
  }
  function removeWire(svg) {
    const ends = wireEnds(svg);
    selectedWire = null;
    editor.connection_selected = null;
    if (ends) editor.removeSingleConnection(ends[0], ends[1], ends[2], ends[3]);
    el.focus();
  }
  el.addEventListener("click", function (e) {
    const svg = e.target.closest && e.target.closest("svg.connection");
    if (svg) { selectWire(svg); svg.focus({ preventScroll: true }); } else clearWire();
  });
  el.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches("svg.connection")) selectWire(e.target);
  });
  // drawflow's own Delete handling only knows the mouse and misses Backspace: ours (below, on window in the
  // capture phase) replaces it and keeps these keys from reaching drawflow's listener on document
  function typing(t) {
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  let clipboard = null;
  function copyStep() {
    const n = selected && nodes()[selected];
    if (!n) return false;
    clipboard = { type: n.data.type, config: configOf(n), label: n.data.label || "", x: n.pos_x, y: n.pos_y };
    return true;
  }
  function pasteStep() {
    if (!clipboard || !types[clipboard.type]) return false;
    clipboard.x += 40; clipboard.y += 60;
    const extra = clipboard.label ? { label: clipboard.label } : {};
    const id = addNode(freshId(clipboard.type), clipboard.type, clipboard.config, clipboard.x, clipboard.y, extra);
    changed();
    loadForm(id);
    return true;
  }
  window.addEventListener("keydown", function (e) {
    const mod = e.ctrlKey || e.metaKey;
    if (typing(e.target)) return;
    if (e.key === "Delete" || e.key === "Backspace") e.stopPropagation();
    const key = e.key.toLowerCase();
    if (mod && key === "z") { e.preventDefault(); if (e.shiftKey) redo(); else undo(); return; }
    if (mod && key === "y") { e.preventDefault(); redo(); return; }
    if (mod && key === "c" && !window.getSelection().toString()) { if (copyStep()) e.preventDefault(); return; }
    if (mod && key === "v") { if (pasteStep()) e.preventDefault(); return; }
    if (e.key !== "Delete" && e.key !== "Backspace") return;
    if (selectedWire && document.body.contains(selectedWire)) { e.preventDefault(); removeWire(selectedWire); return; }
    // a wire drawflow selected itself (on mousedown)
    const picked = editor.connection_selected && editor.connection_selected.closest && editor.connection_selected.closest("svg.connection");
    if (picked && document.body.contains(picked)) { e.preventDefault(); removeWire(picked); return; }
    if (selected && nodes()[selected] && (el.contains(e.target) || e.target === document.body)) {
      e.preventDefault();
      editor.removeNodeId("node-" + selected);
    }
  }, true);

  // --- an empty flow says how to start
  function emptyHint() {
    let hint = document.getElementById("canvas-empty");
    const empty = !Object.keys(nodes()).length;
    if (!hint && empty) {
      hint = document.createElement("div");
      hint.id = "canvas-empty";
      hint.className = "canvas-empty";
      hint.textContent = el.dataset.startText || "";
      el.parentElement.insertBefore(hint, el);
    }
    if (hint) hint.hidden = !empty;
  }

  // --- leaving with unsaved changes asks first
  window.addEventListener("beforeunload", function (e) {
    if (!dirty) return;
    e.preventDefault();
    e.returnValue = "";
  });

  // --- problems on nodes
  function markProblems() {
    document.querySelectorAll(".drawflow-node.has-problem").forEach(function (n) {
      n.classList.remove("has-problem");
      n.removeAttribute("title");
      const line = n.querySelector(".node-problem");
      if (line) { line.hidden = true; line.textContent = ""; }
    });
    problems.forEach(function (p) {
      const id = p.node && byDocId[p.node];
      const box = id && document.getElementById("node-" + id);
      if (box) {
        box.classList.add("has-problem");
        box.title = (box.title ? box.title + "\n" : "") + p.message;
        const line = box.querySelector(".node-problem");
        if (line && !line.textContent) { line.textContent = "⚠ " + p.message; line.hidden = false; }
      }
    });
  }
  document.body.addEventListener("koppel:problems", function (e) {
    problems = (e.detail && e.detail.problems) || [];
    markProblems();
    if (selected && nodes()[selected]) loadForm(selected);
  });

  // --- the side panel form
  function loadForm(id) {
    const n = nodes()[id];
    if (!n) return;
    selected = String(id);
    document.querySelectorAll(".drawflow-node.is-current").forEach(function (b) { b.classList.remove("is-current"); });
    const box = document.getElementById("node-" + id);
    if (box) box.classList.add("is-current");
    const mine = problems.filter(function (p) { return p.node === n.data.doc_id; });
    htmx.ajax("POST", "/ui/node-form", {
      target: "#node-form", swap: "innerHTML",
      headers: { "X-CSRF-Token": csrf },
      values: {
        type: n.data.type, node_id: n.data.doc_id, flow_id: flowId, config: n.data.config_json || "{}", problems: JSON.stringify(mine),
        label: n.data.label || "", merge: n.data.merge ? "true" : "", incoming: String(incoming(id)),
        version: String(n.data.version || 1),
      },
    });
  }
  function incoming(id) {
    const n = nodes()[id];
    return n && n.inputs && n.inputs.input_1 ? n.inputs.input_1.connections.length : 0;
  }
  editor.on("nodeSelected", function (id) { clearWire(); loadForm(id); });
  editor.on("nodeRemoved", function (id) {
    Object.keys(byDocId).forEach(function (k) { if (String(byDocId[k]) === String(id)) delete byDocId[k]; });
    if (String(selected) === String(id)) {
      selected = null;
      document.getElementById("node-form").innerHTML = '<p class="muted">' + esc(el.dataset.emptyText || "") + "</p>";
    }
    changed();
  });
  ["connectionCreated", "connectionRemoved", "nodeMoved", "nodeCreated"].forEach(function (ev) { editor.on(ev, changed); });

  function collectGroup(g) {
    const mode = g.querySelector(":scope > legend .cond-mode").value;
    const items = [];
    Array.from(g.querySelector(":scope > .cond-items").children).forEach(function (c) {
      if (c.dataset.cond === "rule") {
        const field = c.querySelector(".cond-field").value.trim();
        const op = c.querySelector(".cond-op").value;
        if (!field) return;
        const rule = { field: field, op: op };
        if (!NO_VALUE.has(op)) {
          const v = c.querySelector(".cond-value").value;
          rule.value = (op === "in" || op === "not_in") ? v.split(",").map(function (s) { return s.trim(); }).filter(Boolean) : v;
        }
        items.push(rule);
      } else if (c.dataset.cond === "group") {
        items.push(collectGroup(c));
      }
    });
    const out = {};
    out[mode] = items;
    return out;
  }
  function collectFieldRow(row) {
    const target = row.querySelector(".fm-target").value.trim();
    if (!target) return null;
    const kind = row.querySelector(".fm-kind").value;
    const text = row.querySelector(".fm-text").value;
    const source = { kind: kind, on_missing: row.querySelector(".fm-missing").value };
    if (kind === "path") source.path = text.trim();
    else if (kind === "constant") source.value = text;
    else if (kind === "expression") source.expression = text;
    else if (kind === "table") {
      source.key_path = text.trim();
      const table = {};
      row.querySelector(".fm-table").value.split("\n").forEach(function (line) {
        const at = line.indexOf("=");
        if (at > 0) table[line.slice(0, at).trim()] = line.slice(at + 1).trim();
      });
      source.table = table;
    }
    const def = row.querySelector(".fm-default").value;
    if (def !== "") source["default"] = def;
    return { target: target, source: source };
  }
  function toggleFieldRow(row) {
    const label = row.querySelector(".fm-table-label");
    if (label) label.hidden = row.querySelector(".fm-kind").value !== "table";
    checkField(row);
  }
  function collect(form, old) {
    const cfg = {};
    form.querySelectorAll(":scope > .field").forEach(function (f) {
      const name = f.dataset.field, w = f.dataset.widget, nullable = f.dataset.nullable === "true";
      const input = f.querySelector("#nf-" + CSS.escape(name));
      if (w === "checkbox") cfg[name] = input.checked;
      else if (w === "number") {
        if (input.value !== "") cfg[name] = f.dataset.valueType === "integer" ? parseInt(input.value, 10) : parseFloat(input.value);
        else if (nullable) cfg[name] = null;
      } else if (w === "text" || w === "field" || w === "select" || w === "enum") {
        if (input.value !== "") cfg[name] = input.value;
        else if (nullable) cfg[name] = null;
      } else if (w === "multiselect") cfg[name] = Array.from(input.selectedOptions).map(function (o) { return o.value; }).filter(Boolean);
      else if (w === "lines") cfg[name] = input.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
      else if (w === "json") {
        if (input.value.trim() === "") { if (nullable) cfg[name] = null; return; }
        try { cfg[name] = JSON.parse(input.value); input.setCustomValidity(""); }
        catch (err) { input.setCustomValidity("Not valid JSON"); if (old && name in old) cfg[name] = old[name]; }
      } else if (w === "table") {
        const o = {};
        f.querySelectorAll("tbody .kv-row").forEach(function (r) {
          const k = r.querySelector(".kv-key").value.trim();
          const v = r.querySelector(".kv-value").value;
          if (k && v !== "") o[k] = v;  // a row without a value is not finished yet
        });
        cfg[name] = o;
      } else if (w === "fieldmap") {
        cfg[name] = Array.from(f.querySelectorAll(".fieldmap > .fm-row")).map(collectFieldRow).filter(Boolean);
      } else if (w === "conditions") {
        cfg[name] = collectGroup(f.querySelector(".conditions > .cond-group"));
      } else if (w === "routes") {
        cfg[name] = Array.from(f.querySelectorAll(".routes > .route-row")).map(function (r) {
          return { output: r.querySelector(".route-output").value.trim(), conditions: collectGroup(r.querySelector(":scope > .cond-group")) };
        });
      }
    });
    return cfg;
  }
  function unmappedHints(form) {
    form.querySelectorAll('.field[data-widget="table"]').forEach(function (f) {
      const hint = f.querySelector(".unmapped-hint");
      const dl = f.querySelector("datalist.key-options");
      if (!hint || !dl) return;
      const keys = new Set(Array.from(f.querySelectorAll("tbody .kv-key")).map(function (i) { return i.value.trim(); }));
      if (keys.has("*")) { hint.hidden = true; return; }
      const missing = Array.from(dl.options).map(function (o) { return o.value; }).filter(function (v) { return v && !keys.has(v); });
      if (!missing.length || missing.length > 40) { hint.hidden = true; return; }
      hint.textContent = hint.dataset.label + " " + missing.slice(0, 12).join(", ") + (missing.length > 12 ? " …" : "");
      hint.hidden = false;
    });
  }
  function syncForm() {
    const form = document.getElementById("node-config");
    if (!form || !selected || !nodes()[selected]) return;
    const n = nodes()[selected];
    const cfg = collect(form, configOf(n));
    const label = form.querySelector(".node-label-input");
    const merge = form.querySelector(".node-merge-input");
    const data = Object.assign({}, n.data, { config_json: JSON.stringify(cfg) });
    if (label) { if (label.value.trim()) data.label = label.value.trim(); else delete data.label; }
    if (merge) { if (merge.checked) data.merge = true; else delete data.merge; }
    editor.updateNodeDataFromId(selected, data);
    redraw(selected);
    markProblems();
    unmappedHints(form);
    changed(true);
  }
  // what the value box takes, said in its placeholder; a field no sample record has is pointed out
  const TAKES = { in: "many", not_in: "many", greater: "number", greater_or_equal: "number", less: "number",
    less_or_equal: "number", matches: "pattern", not_matches: "pattern" };
  function toggleValue(rule) {
    const op = rule.querySelector(".cond-op");
    const label = rule.querySelector(".cond-value-label");
    if (op && label) label.hidden = NO_VALUE.has(op.value);
    const value = rule.querySelector(".cond-value");
    if (op && value) value.placeholder = value.dataset[TAKES[op.value] || "one"] || "";
    checkField(rule);
    drawChips(rule);
  }
  // a rule's field, or a map row's field when it comes from "a field of the record"
  function fieldInput(box) {
    if (!box) return null;
    if (box.classList.contains("fm-row")) return box.querySelector(".fm-kind").value === "path" ? box.querySelector(".fm-text") : null;
    return box.querySelector(".cond-field");
  }
  function checkField(box) {
    const warning = box && box.querySelector(".cond-field-warning");
    if (!warning) return;
    const input = fieldInput(box);
    const list = input && document.getElementById(input.getAttribute("list"));
    if (!input || !list) { warning.hidden = true; return; }
    const known = Array.from(list.options).map(function (o) { return o.value; });
    const path = input.value.trim();
    warning.hidden = !path || !known.length || known.indexOf(path) >= 0 ||
      known.some(function (k) { return k.indexOf(path + ".") === 0 || k.indexOf(path + "[*]") === 0; });
  }
  // the grouped field picker: the sample records' fields by friendly name, in sections by their first part
  function fillPicker(select) {
    const list = document.getElementById(select.dataset.list);
    if (!list || select.dataset.filled === String(list.options.length)) return;
    const first = select.options[0];
    select.innerHTML = "";
    select.appendChild(first);
    const groups = {};
    Array.from(list.options).forEach(function (o) {
      const label = o.label || o.value;
      const parts = label.split(" → ");
      const section = parts.length > 1 ? parts[0] : (list.dataset.top || "");
      if (!groups[section]) {
        groups[section] = document.createElement("optgroup");
        groups[section].label = section;
      }
      const option = document.createElement("option");
      option.value = o.value;
      option.textContent = label;
      groups[section].appendChild(option);
    });
    const top = list.dataset.top || "";
    if (groups[top]) select.appendChild(groups[top]);
    Object.keys(groups).sort().forEach(function (k) { if (k !== top) select.appendChild(groups[k]); });
    select.dataset.filled = String(list.options.length);
  }
  function fillPickers(root) { root.querySelectorAll(".field-picker").forEach(fillPicker); }
  function pickField(select) {
    const box = select.closest(".cond-rule, .fm-row");
    const input = box && (box.classList.contains("fm-row") ? box.querySelector(".fm-text") : box.querySelector(".cond-field"));
    if (!input || !select.value) return;
    if (box.classList.contains("fm-row")) box.querySelector(".fm-kind").value = "path";
    input.value = select.value;
    select.value = "";
    checkField(box);
    input.focus();
  }
  // the values of "is one of" as chips, each removable
  function drawChips(rule) {
    const chips = rule.querySelector(".chips");
    const op = rule.querySelector(".cond-op");
    const value = rule.querySelector(".cond-value");
    if (!chips || !op || !value) return;
    const many = op.value === "in" || op.value === "not_in";
    const values = many ? value.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean) : [];
    chips.hidden = !values.length;
    chips.innerHTML = values.map(function (v, i) {
      return '<li class="chip">' + esc(v) + ' <button type="button" class="chip-remove" data-index="' + i +
        '" aria-label="' + esc((chips.dataset.remove || "Remove") + " " + v) + '">×</button></li>';
    }).join("");
  }
  const panel = document.getElementById("node-form");
  panel.addEventListener("input", function (e) {
    if (e.target.classList.contains("node-id-input")) return;
    if (e.target.classList.contains("cond-field")) checkField(e.target.closest(".cond-rule"));
    if (e.target.classList.contains("fm-text")) checkField(e.target.closest(".fm-row"));
    if (e.target.classList.contains("cond-value")) drawChips(e.target.closest(".cond-rule"));
    syncForm();
  });
  panel.addEventListener("change", function (e) {
    if (e.target.classList.contains("node-id-input")) { renameNode(e.target); return; }
    if (e.target.classList.contains("cond-op")) toggleValue(e.target.closest(".cond-rule"));
    if (e.target.classList.contains("cond-field")) checkField(e.target.closest(".cond-rule"));
    if (e.target.classList.contains("fm-kind")) toggleFieldRow(e.target.closest(".fm-row"));
    if (e.target.classList.contains("field-picker")) pickField(e.target);
    syncForm();
  });
  // "This step uses an older version — Upgrade": the form brings the upgraded config; saving keeps it
  function upgradeStep(button) {
    const n = selected && nodes()[selected];
    if (!n) return;
    let cfg;
    try { cfg = JSON.parse(button.dataset.config); } catch (err) { return; }
    editor.updateNodeDataFromId(selected, Object.assign({}, n.data, { config_json: JSON.stringify(cfg), version: Number(button.dataset.version) }));
    redraw(selected);
    changed();
    loadForm(selected);
  }
  function renameNode(input) {
    const n = nodes()[selected];
    const wanted = input.value.trim();
    if (!n || wanted === n.data.doc_id) return;
    if (!/^[A-Za-z0-9_-]+$/.test(wanted) || byDocId[wanted]) { input.setCustomValidity("Use letters, digits, - or _; unique"); input.reportValidity(); return; }
    input.setCustomValidity("");
    delete byDocId[n.data.doc_id];
    byDocId[wanted] = Number(selected);
    editor.updateNodeDataFromId(selected, Object.assign({}, n.data, { doc_id: wanted }));
    redraw(selected);
    changed();
  }
  panel.addEventListener("click", function (e) {
    const t = e.target.closest("button");
    if (!t) return;
    const field = t.closest(".field");
    if (t.classList.contains("add-row")) {
      const tpl = field.querySelector("template.kv-template");
      field.querySelector("tbody").appendChild(tpl.content.cloneNode(true));
      const rows = field.querySelectorAll("tbody .kv-row");
      rows[rows.length - 1].querySelector(".kv-key").focus();
    } else if (t.classList.contains("remove-row")) {
      t.closest("tr").remove();
    } else if (t.classList.contains("add-rule") || t.classList.contains("add-group")) {
      const tpl = field.querySelector(t.classList.contains("add-rule") ? "template.tpl-rule" : "template.tpl-group");
      const group = t.closest(".cond-group");
      const items = group.querySelector(":scope > .cond-items");
      items.appendChild(tpl.content.cloneNode(true));
      fillPickers(items);
      const last = items.lastElementChild;
      const focus = last && last.querySelector("input, select");
      if (focus) focus.focus();
    } else if (t.classList.contains("add-fm")) {
      field.querySelector(".fieldmap").appendChild(field.querySelector("template.tpl-fm").content.cloneNode(true));
      fillPickers(field.querySelector(".fieldmap"));
      const rows = field.querySelectorAll(".fieldmap > .fm-row");
      toggleFieldRow(rows[rows.length - 1]);
      rows[rows.length - 1].querySelector(".fm-target").focus();
    } else if (t.classList.contains("add-route")) {
      field.querySelector(".routes").appendChild(field.querySelector("template.tpl-route").content.cloneNode(true));
      const rows = field.querySelectorAll(".routes > .route-row");
      rows[rows.length - 1].querySelector(".route-output").focus();
    } else if (t.classList.contains("remove-route")) {
      t.closest(".route-row").remove();
    } else if (t.classList.contains("upgrade-node")) {
      upgradeStep(t);
      return;
    } else if (t.classList.contains("remove-fm")) {
      t.closest(".fm-row").remove();
    } else if (t.classList.contains("chip-remove")) {
      const rule = t.closest(".cond-rule");
      const value = rule.querySelector(".cond-value");
      const values = value.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
      values.splice(Number(t.dataset.index), 1);
      value.value = values.join(", ");
      drawChips(rule);
      value.focus();
    } else if (t.classList.contains("remove-rule")) {
      t.closest(".cond-rule").remove();
    } else if (t.classList.contains("remove-group")) {
      t.closest(".cond-group").remove();
    } else if (t.classList.contains("remove-node")) {
      if (selected) editor.removeNodeId("node-" + selected);
      return;
    } else if (t.classList.contains("duplicate-node")) {
      if (copyStep()) pasteStep();
      return;
    } else {
      return;
    }
    syncForm();
  });
  // coming from the inbox: a new row for the missing key in the table that lacks it
  let pendingRow = el.dataset.addTable ? { table: el.dataset.addTable, key: el.dataset.addKey || "" } : null;
  function addPendingRow() {
    if (!pendingRow) return;
    const field = document.querySelector('#node-config .field[data-widget="table"][data-field="' + CSS.escape(pendingRow.table) + '"]');
    if (!field) return;
    const known = Array.from(field.querySelectorAll("tbody .kv-key")).find(function (i) { return i.value.trim() === pendingRow.key; });
    let row = known && known.closest("tr");
    if (!row) {
      field.querySelector("tbody").appendChild(field.querySelector("template.kv-template").content.cloneNode(true));
      const rows = field.querySelectorAll("tbody .kv-row");
      row = rows[rows.length - 1];
      row.querySelector(".kv-key").value = pendingRow.key;
    }
    row.classList.add("highlight");
    row.scrollIntoView({ block: "center" });
    row.querySelector(".kv-value").focus();
    pendingRow = null;
  }
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.target.id === "node-form") {
      addPendingRow();
      e.target.querySelectorAll(".cond-rule").forEach(toggleValue);
      e.target.querySelectorAll(".fm-row").forEach(toggleFieldRow);
      const form = document.getElementById("node-config");
      if (form) unmappedHints(form);
    } else if (e.target.tagName === "DATALIST" && e.target.id.indexOf("sample-fields-") === 0) {
      document.querySelectorAll("#node-config .cond-rule, #node-config .fm-row").forEach(checkField);
      fillPickers(document.getElementById("node-config") || document);
    } else if (e.target.classList && e.target.classList.contains("key-options")) {
      const form = document.getElementById("node-config");
      if (form) unmappedHints(form);
    } else if (e.target.id === "save-result" && e.detail.xhr && e.detail.xhr.status < 300 && e.detail.requestConfig.path.endsWith("/save")) {
      setDirty(false);
    } else if (e.target.id === "test-output") {
      setDirty(false);  // a test run saves the canvas first
    }
  });

  // --- palette: drag and drop, or the + button
  document.querySelectorAll(".palette-item").forEach(function (item) {
    item.addEventListener("dragstart", function (e) { e.dataTransfer.setData("text/plain", item.dataset.type); e.dataTransfer.effectAllowed = "copy"; });
  });
  el.addEventListener("dragover", function (e) { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; });
  function place(type, clientX, clientY) {
    if (!types[type]) return null;
    const rect = editor.precanvas.getBoundingClientRect();
    const x = (clientX - rect.x) / editor.zoom, y = (clientY - rect.y) / editor.zoom;
    const id = addNode(freshId(type), type, {}, x - 20, y - 20);
    changed();
    loadForm(id);
    return id;
  }
  // the wire under a point (a few pixels of slack: wires are thin), as [output node id, input node id]
  function wireAt(clientX, clientY) {
    for (let dx = -6; dx <= 6; dx += 3) {
      for (let dy = -6; dy <= 6; dy += 3) {
        const hit = document.elementsFromPoint(clientX + dx, clientY + dy).find(function (n) {
          return n.classList && n.classList.contains("main-path");
        });
        if (hit) {
          const ends = wireEnds(hit.parentElement);
          if (ends) return ends;
        }
      }
    }
    return null;
  }
  el.addEventListener("drop", function (e) {
    e.preventDefault();
    const type = e.dataTransfer.getData("text/plain");
    const wire = wireAt(e.clientX, e.clientY);
    const t = types[type];
    const id = place(type, e.clientX, e.clientY);
    // dropped onto a wire: the step is spliced into it
    if (id && wire && t && t.inputs.length && t.outputs.length) {
      editor.removeSingleConnection(wire[0], wire[1], wire[2], wire[3]);
      editor.addConnection(wire[0], id, wire[2], "input_1");
      editor.addConnection(id, wire[1], "output_1", wire[3]);
      // keep it clear of its neighbours: just below the wire
      const n = nodes()[id];
      const box = document.getElementById("node-" + id);
      n.pos_y += 110;
      box.style.top = n.pos_y + "px";
      editor.updateConnectionNodes("node-" + id);
      changed();
    }
  });
  document.querySelectorAll(".add-node").forEach(function (b) {
    b.addEventListener("click", function () {
      const type = b.dataset.type;
      if (!types[type]) return;
      const data = nodes();
      const ids = Object.keys(data);
      let x = 80, y = 120, from = null;
      if (ids.length) {
        // to the right of the selected step (or of the rightmost one), wired to it
        from = (selected && data[selected]) || ids.map(function (i) { return data[i]; }).sort(function (a, b) { return b.pos_x - a.pos_x; })[0];
        x = from.pos_x + 280; y = from.pos_y;
      }
      const id = addNode(freshId(type), type, {}, x, y);
      const fromType = from && types[from.data.type];
      if (fromType && fromType.outputs.length && types[type].inputs.length) {
        editor.addConnection(from.id, id, "output_1", "input_1");
      }
      changed();
      fit();
      loadForm(id);
    });
  });

  // --- zoom and fit
  const readable = 1;
  document.getElementById("zoom-in").addEventListener("click", function () { editor.zoom_in(); });
  document.getElementById("zoom-out").addEventListener("click", function () { editor.zoom_out(); });
  function fit() {
    const data = nodes();
    const ids = Object.keys(data);
    if (!ids.length) return;
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    ids.forEach(function (id) {
      const n = data[id];
      const box = document.getElementById("node-" + id);
      const w = box ? box.offsetWidth : 180, h = box ? box.offsetHeight : 80;
      minX = Math.min(minX, n.pos_x); minY = Math.min(minY, n.pos_y);
      maxX = Math.max(maxX, n.pos_x + w); maxY = Math.max(maxY, n.pos_y + h);
    });
    const W = el.clientWidth, H = el.clientHeight, pad = 40;
    let z = Math.min((W - 2 * pad) / Math.max(maxX - minX, 1), (H - 2 * pad) / Math.max(maxY - minY, 1));
    // never smaller than the size its text was written for (node text stays >= 12 px); what does not fit is
    // reached by dragging the background, starting from the first step
    z = Math.max(readable, Math.min(1.2, z));
    const midX = (minX + maxX) / 2, midY = (minY + maxY) / 2;
    editor.zoom = z;
    editor.zoom_last_value = z;
    const wide = (maxX - minX) * z > W - 2 * pad, tall = (maxY - minY) * z > H - 2 * pad;
    editor.canvas_x = wide ? (pad - minX * z) : -(midX - W / 2) * z;
    editor.canvas_y = tall ? (pad - minY * z) : -(midY - H / 2) * z;
    editor.precanvas.style.transform = "translate(" + editor.canvas_x + "px, " + editor.canvas_y + "px) scale(" + z + ")";
    editor.dispatch("zoom", z);
  }
  document.getElementById("zoom-fit").addEventListener("click", fit);

  // --- problems list: jump to the node
  document.addEventListener("click", function (e) {
    const b = e.target.closest(".goto-node");
    if (!b) return;
    const id = byDocId[b.dataset.node];
    if (id) { loadForm(id); document.getElementById("node-" + id).scrollIntoView({ block: "center" }); }
  });

  // --- save / test run send the canvas
  document.body.addEventListener("htmx:configRequest", function (e) {
    const f = e.detail.elt;
    if (f && (f.id === "save-form" || f.id === "test-form" || f.classList.contains("run-now"))) {
      e.detail.parameters["document"] = JSON.stringify(toDocument());
    }
  });
  document.body.addEventListener("htmx:beforeRequest", function (e) {
    if (e.detail.elt && e.detail.elt.classList && e.detail.elt.classList.contains("run-now")) setDirty(false);
  });
  window.koppelFlow = {
    toDocument: toDocument, byDocId: byDocId, loadForm: loadForm, isDirty: function () { return dirty; },
    zoom: function () { return editor.zoom; },
  };

  loadDocument(original);
  history.current = JSON.stringify(toDocument());
  syncHidden();
  markProblems();
  requestAnimationFrame(fit);
  if (el.dataset.select && byDocId[el.dataset.select]) loadForm(byDocId[el.dataset.select]);
})();
