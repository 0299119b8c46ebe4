// Luna's chat panel: POST /api/chat, each action shown as a chip, undo via undo_last_action.
// No build step, no dependencies; htmx (if loaded) re-activates refreshed page content.
(function () {
  "use strict";

  const LABELS = {
    create_task: "Added task", complete_task: "Completed task", reschedule_task: "Moved task",
    log_habit: "Logged habit", update_daily_metrics: "Saved check-in", create_goal: "Added goal",
    update_goal_progress: "Updated goal", create_chore: "Added chore",
    complete_chore: "Chore done", reschedule_chore: "Moved chore", delegate_chore: "Handed over",
    add_event: "Added event", send_family_message: "Sent message",
    update_user_profile: "Remembered", undo_last_action: "Undone",
  };

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function logBox() { return document.getElementById("chat-log"); }

  function addMessage(role, text) {
    const box = logBox();
    const msg = el("div", "msg " + role, text);
    msg.setAttribute("data-role", role);
    if (box) { box.appendChild(msg); box.scrollTop = box.scrollHeight; }
    return msg;
  }

  function subject(action) {
    const r = (action.result && typeof action.result === "object") ? action.result : {};
    const inner = r.task || r.habit || r.goal || r.chore || r.event || r.message || r;
    const a = action.arguments || {};
    return inner.title || inner.name || a.title || a.task || a.habit || a.goal || a.chore || "";
  }

  function chipText(action) {
    const label = LABELS[action.tool] || action.tool.replace(/_/g, " ");
    if (!action.ok) {
      const why = (action.result && action.result.detail) || action.detail || "failed";
      return label + " — " + why;
    }
    const what = subject(action);
    return what ? label + ": " + what : label;
  }

  let lastUndoable = null;
  let writeTools = null;

  // Which tools change something (from GET /api/tools): only those get a chip and an undo.
  async function loadWriteTools() {
    if (writeTools) return writeTools;
    try {
      const response = await fetch("/api/tools", { credentials: "same-origin" });
      const specs = response.ok ? await response.json() : [];
      writeTools = new Set(specs.filter(function (s) { return s.writes; })
        .map(function (s) { return s.name; }));
    } catch (e) {
      writeTools = new Set(Object.keys(LABELS));
    }
    return writeTools;
  }

  function isWrite(tool) {
    return writeTools ? writeTools.has(tool) : LABELS[tool] !== undefined;
  }

  function renderChips(anchor, actions) {
    const shown = (actions || []).filter(function (a) { return !a.ok || isWrite(a.tool); });
    if (!shown.length) return [];
    const list = el("ul", "chips");
    list.setAttribute("aria-label", "What Luna did");
    const chips = shown.map(function (action) {
      const chip = el("li", "action-chip" + (action.ok ? "" : " failed"));
      chip.setAttribute("data-tool", action.tool);
      chip.appendChild(el("span", "", chipText(action)));
      list.appendChild(chip);
      return { chip: chip, action: action };
    });
    anchor.after(list);
    const undoable = chips.filter(function (c) {
      return c.action.ok && c.action.tool !== "undo_last_action";
    });
    if (undoable.length) {
      if (lastUndoable) lastUndoable.remove();
      const target = undoable[undoable.length - 1].chip;
      const button = el("button", "undo", "Undo");
      button.type = "button";
      button.setAttribute("aria-label", "Undo: " + target.textContent);
      button.addEventListener("click", function () { undoLast(target, button); });
      target.appendChild(button);
      lastUndoable = button;
    }
    return chips;
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {}),
    });
    if (response.status === 401) {
      window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
      throw new Error("logged out");
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data: data };
  }

  async function undoLast(chip, button) {
    button.disabled = true;
    const r = await postJSON("/api/tools/undo_last_action", { arguments: {} });
    if (r.ok && r.data && r.data.ok) {
      chip.classList.add("undone");
      button.remove();
      lastUndoable = null;
      const res = r.data.result || {};
      addMessage("luna", res.summary || res.message || "Undone.");
      refreshMain();
    } else {
      button.disabled = false;
      const why = (r.data && (r.data.detail || r.data.error)) || "could not undo";
      addMessage("system", "Undo failed: " + why);
    }
  }

  // Re-fetch the current page and swap its <main>, so what Luna changed shows at once.
  async function refreshMain() {
    const main = document.getElementById("main");
    if (!main) return;
    const response = await fetch(window.location.pathname + window.location.search, {
      credentials: "same-origin", headers: { "Accept": "text/html" },
    });
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("main");
    if (!fresh) return;
    main.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
    document.dispatchEvent(new CustomEvent("luna:refreshed"));
  }

  async function send(text) {
    addMessage("user", text);
    const pending = addMessage("luna", "…");
    pending.setAttribute("aria-busy", "true");
    let r;
    try {
      r = await postJSON("/api/chat", { text: text });
    } catch (e) {
      pending.textContent = "I couldn't reach Luna. Check your connection and try again.";
      pending.className = "msg system";
      return null;
    }
    pending.removeAttribute("aria-busy");
    await loadWriteTools();
    if (!r.ok || !r.data) {
      pending.className = "msg system";
      pending.textContent = (r.data && r.data.detail) || "Something went wrong (" + r.status + ").";
      return null;
    }
    pending.textContent = r.data.reply;
    renderChips(pending, r.data.actions);
    if ((r.data.actions || []).some(function (a) { return a.ok; })) await refreshMain();
    return r.data;
  }

  function init() {
    const form = document.getElementById("chat-form");
    const input = document.getElementById("chat-input");
    if (!form || !input) return;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      input.disabled = true;
      try { await send(text); } finally { input.disabled = false; input.focus(); }
    });
  }

  window.LunaChat = {
    send: send, addMessage: addMessage, renderChips: renderChips, refreshMain: refreshMain,
    postJSON: postJSON, chipText: chipText, loadWriteTools: loadWriteTools,
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
