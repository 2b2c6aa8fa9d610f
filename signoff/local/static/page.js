// The local Slack page: renders what the stand-in recorded (GET /local/messages) the way
// Slack would, and acts as the chosen user through the stand-in's /local endpoints.
//
// All text reaches the DOM through text nodes (textContent, append of strings): user text
// is never parsed as HTML. Slack mrkdwn is parsed here into elements, as Slack parses it:
// only a raw `<…>` is markup, and `&lt;` `&gt;` `&amp;` are the characters they escape.
"use strict";

const BOT_USER = "U0SIGNOFFBOT";
const EMOJI = {
  white_check_mark: "\u2705", x: "\u274c", hourglass: "\u231b", no_entry_sign: "\ud83d\udeab",
  alarm_clock: "\u23f0", bell: "\ud83d\udd14", warning: "\u26a0\ufe0f", wave: "\ud83d\udc4b",
  speech_balloon: "\ud83d\udcac", hourglass_flowing_sand: "\u23f3", rotating_light: "\ud83d\udea8",
  inbox_tray: "\ud83d\udce5", outbox_tray: "\ud83d\udce4", heavy_check_mark: "\u2714\ufe0f",
  information_source: "\u2139\ufe0f", house: "\ud83c\udfe0", lock: "\ud83d\udd12",
};

const state = {
  user: "",
  config: null,
  data: null,
  dataKey: "",
  place: {kind: "channel", id: "approvals"},  // or {kind: "home"}
  thread: null,  // the parent message's ts
  // Modals the user closed with Cancel (Slack tells the app nothing): kept for this tab.
  closedViews: new Set(JSON.parse(sessionStorage.getItem("signoff.closedViews") || "[]")),
  drafts: {},  // modal input values, kept across re-renders
  fieldErrors: {},  // the page's own "required" errors, as Slack shows them before sending
  confirming: null,  // a confirm dialog on screen
  shownView: "",
  homeOpenedFor: "",
  focusTs: "",  // a permalink's message: scrolled to and marked once shown
};

const $ = (id) => document.getElementById(id);

// -- DOM helpers: every string becomes a text node ---------------------------------

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const decode = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
const emoji = (s) => s.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);

// -- mrkdwn --------------------------------------------------------------------------

function pad(n) { return String(n).padStart(2, "0"); }

function formatDate(epoch, format, fallback) {
  const d = new Date(Number(epoch) * 1000);
  if (Number.isNaN(d.getTime())) return fallback;
  const date = d.toLocaleDateString(undefined, {year: "numeric", month: "short", day: "numeric"});
  const long = d.toLocaleDateString(undefined, {weekday: "long", year: "numeric", month: "long", day: "numeric"});
  const tokens = {
    date_num: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
    date: long.replace(/^[^,]*, /, ""), date_short: date, date_long: long,
    date_pretty: date, date_short_pretty: date, date_long_pretty: long,
    time: `${pad(d.getHours())}:${pad(d.getMinutes())}`,
    time_secs: `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`,
  };
  tokens.ago = ago(d);
  return format.replace(/\{([a-z_]+)\}/g, (m, name) => tokens[name] ?? m);
}

// Slack's {ago}: "in 42 minutes", "3 minutes ago", as of when the page renders.
function ago(d) {
  const seconds = Math.round((d.getTime() - Date.now()) / 1000);
  const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  const [unit, size] = units.find(([, n]) => Math.abs(seconds) >= n) || ["second", 1];
  const n = Math.round(Math.abs(seconds) / size);
  const span = `${n} ${unit}${n === 1 ? "" : "s"}`;
  return seconds >= 0 ? `in ${span}` : `${span} ago`;
}

// A user group mention reads "@handle", as in Slack: the stand-in's groups by id.
function groupMention(id, label) {
  const handles = (state.data && state.data.usergroups) || {};
  const shown = label || "@" + (handles[id] || id || "group");
  return el("span", {className: "mention special", dataset: {group: id}}, shown);
}

// One `<…>` control sequence: a mention, a channel, a special mention, a date or a link.
function controlToken(inner) {
  const bar = inner.indexOf("|");
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? "" : decode(inner.slice(bar + 1));
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return el("span", {className: "mention", dataset: {user: id}}, "@" + (label || id));
  }
  if (target.startsWith("#")) return el("span", {className: "mention"}, "#" + (label || target.slice(1)));
  if (target.startsWith("!")) {
    const parts = target.slice(1).split("^");
    if (parts[0] === "date") return el("span", {className: "date"}, formatDate(parts[1], parts[2] || "", label));
    if (["here", "channel", "everyone"].includes(parts[0])) {
      return el("span", {className: "mention special"}, "@" + parts[0]);
    }
    if (parts[0] === "subteam") return groupMention(parts[1] || "", label);
    return label;
  }
  const url = decode(target);
  if (/^(https?:\/\/|mailto:)/i.test(url)) {
    return el("a", {href: url, target: "_blank", rel: "noopener noreferrer"}, label || url);
  }
  return label || url;
}

const INLINE = /<([^<>\n]*)>|`([^`\n]+)`|(?<![\w*])\*([^*\n]+)\*(?![\w*])|(?<![\w_])_([^_\n]+)_(?![\w_])|(?<![\w~])~([^~\n]+)~(?![\w~])/g;

function inline(text, parent) {
  const re = new RegExp(INLINE.source, "g");
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) parent.append(emoji(decode(text.slice(last, m.index))));
    if (m[1] !== undefined) parent.append(controlToken(m[1]));
    else if (m[2] !== undefined) parent.append(el("code", {}, decode(m[2])));
    else {
      const tag = m[3] !== undefined ? "b" : m[4] !== undefined ? "i" : "s";
      const node = el(tag);
      inline(m[3] ?? m[4] ?? m[5], node);
      parent.append(node);
    }
    last = re.lastIndex;
  }
  if (last < text.length) parent.append(emoji(decode(text.slice(last))));
}

function mrkdwn(text) {
  const root = el("div", {className: "mrkdwn"});
  const source = String(text ?? "");
  // ```preformatted``` first: nothing inside it is formatted.
  const chunks = source.split(/```/);
  chunks.forEach((chunk, i) => {
    if (i % 2 === 1) { root.append(el("pre", {}, decode(chunk))); return; }
    const lines = chunk.split("\n");
    lines.forEach((line, j) => {
      if (line.startsWith(">")) {
        const quote = el("blockquote");
        inline(line.slice(1), quote);
        root.append(quote);
        return;
      }
      inline(line, root);
      if (j < lines.length - 1 && !(lines[j + 1] || "").startsWith(">")) root.append("\n");
    });
  });
  return root;
}

function textObject(obj) {
  if (!obj) return el("span");
  if (obj.type === "mrkdwn") return mrkdwn(obj.text);
  const text = String(obj.text ?? "");
  return el("span", {className: "plain"}, obj.emoji === false ? text : emoji(text));
}

// -- rich text: every text element is shown as typed (no mrkdwn) -----------------------

function richElement(e) {
  if (e.type === "text") {
    const style = e.style || {};
    let node = el("span", {className: "rich-text"}, e.text);
    if (style.code) node = el("code", {}, node);
    if (style.bold) node = el("b", {}, node);
    if (style.italic) node = el("i", {}, node);
    if (style.strike) node = el("s", {}, node);
    return node;
  }
  if (e.type === "user") return el("span", {className: "mention", dataset: {user: e.user_id}}, "@" + e.user_id);
  if (e.type === "usergroup") return groupMention(e.usergroup_id, "");
  if (e.type === "date") return el("span", {className: "date"}, formatDate(e.timestamp, e.format || "", e.fallback || ""));
  if (e.type === "link") return el("a", {href: e.url, target: "_blank", rel: "noopener noreferrer"}, e.text || e.url);
  if (e.type === "emoji") return EMOJI[e.name] || `:${e.name}:`;
  if (e.type === "channel") return el("span", {className: "mention"}, "#" + e.channel_id);
  return el("span", {className: "unsupported"}, `[${e.type || "unknown"}]`);
}

function richPart(part) {
  const inner = (part.elements || []).map((e) => (e.type === "rich_text_section" ? richPart(e) : richElement(e)));
  if (part.type === "rich_text_section") return el("div", {className: "rich-section"}, inner);
  if (part.type === "rich_text_quote") return el("blockquote", {className: "rich-quote"}, inner);
  if (part.type === "rich_text_preformatted") return el("pre", {}, inner);
  if (part.type === "rich_text_list") {
    return el(part.style === "ordered" ? "ol" : "ul", {className: "rich-list"},
      (part.elements || []).map((item) => el("li", {}, richPart(item))));
  }
  return el("span", {className: "unsupported"}, `[${part.type || "unknown"}]`);
}

// -- Block Kit -----------------------------------------------------------------------

// `where` says how a button acts: {kind: "message", channel, ts}, {kind: "ephemeral",
// index}, {kind: "home"}, or null (read-only: a modal's own buttons are not ours).
function renderBlocks(blocks, where, view) {
  const out = el("div", {className: "blocks"});
  for (const block of blocks || []) out.append(renderBlock(block, where, view));
  return out;
}

function renderBlock(block, where, view) {
  const type = block && block.type;
  if (type === "section") {
    const body = el("div", {className: "section-body"});
    if (block.text) body.append(textObject(block.text));
    if (block.fields) body.append(el("div", {className: "fields"}, block.fields.map(textObject)));
    const node = el("div", {className: "block block-section", dataset: {blockId: block.block_id || ""}}, body);
    if (block.accessory) node.append(renderElement(block.accessory, block, where));
    return node;
  }
  if (type === "header") return el("div", {className: "block block-header"}, textObject(block.text));
  if (type === "divider") return el("hr", {className: "block block-divider"});
  if (type === "rich_text") {
    return el("div", {className: "block block-rich", dataset: {blockId: block.block_id || ""}},
      (block.elements || []).map(richPart));
  }
  if (type === "context") {
    return el("div", {className: "block block-context"}, (block.elements || []).map((e) =>
      e.type === "image" ? el("span", {}, `[image: ${e.alt_text || ""}]`) : textObject(e)));
  }
  if (type === "actions") {
    return el("div", {className: "block block-actions", dataset: {blockId: block.block_id || ""}},
      (block.elements || []).map((e) => renderElement(e, block, where)));
  }
  if (type === "input") return renderInput(block, view);
  if (type === "image") return el("div", {className: "block"}, `[image: ${block.alt_text || ""}]`);
  return el("div", {className: "block unsupported"}, `[${type || "unknown"} block]`);
}

function renderOverflow(element, block, where) {
  const menu = el("div", {className: "overflow-menu", role: "menu", hidden: true},
    (element.options || []).map((option) => el("button", {
      className: "sk overflow-option", type: "button", role: "menuitem",
      dataset: {actionId: element.action_id || "", value: option.value ?? ""},
      disabled: where ? undefined : true,
      onclick: () => {
        menu.hidden = true;
        const go_ = () => doAction(where, element, block);
        if (element.confirm) showConfirm(element.confirm, go_);
        else go_();
      },
    }, textObject(option.text))));
  const toggle = el("button", {
    className: "sk overflow", type: "button", "aria-label": "More actions", "aria-haspopup": "menu",
    dataset: {actionId: element.action_id || ""}, disabled: where ? undefined : true,
    onclick: () => { menu.hidden = !menu.hidden; },
  }, "\u22ef");
  return el("span", {className: "overflow-wrap"}, toggle, menu);
}

function renderElement(element, block, where) {
  if (element.type === "overflow") return renderOverflow(element, block, where);
  if (element.type !== "button") {
    return el("span", {className: "unsupported"}, `[${element.type || "unknown"} element]`);
  }
  if (element.url && /^https?:\/\//.test(element.url)) {
    // A link button opens its URL (a CI run); Slack still tells the app, which only acks.
    return el("a", {
      className: "sk link-button link", href: element.url, target: "_blank", rel: "noopener noreferrer",
      "aria-label": element.accessibility_label,
    }, textObject(element.text));
  }
  const button = el("button", {
    className: `sk ${element.style || ""}`.trim(),
    type: "button",
    "aria-label": element.accessibility_label,
    dataset: {actionId: element.action_id || "", value: element.value ?? ""},
    disabled: where ? undefined : true,
  }, textObject(element.text));
  if (where) {
    button.addEventListener("click", () => {
      const go_ = () => doAction(where, element, block);
      if (element.confirm) showConfirm(element.confirm, go_);
      else go_();
    });
  }
  return button;
}

function renderInput(block, view) {
  const element = block.element || {};
  const key = `${view ? view.id : ""}/${block.block_id}`;
  const props = {
    dataset: {blockId: block.block_id || "", actionId: element.action_id || ""},
    maxlength: element.max_length, minlength: element.min_length,
    placeholder: element.placeholder && element.placeholder.text,
    "aria-label": block.label && block.label.text,
    oninput: (ev) => { state.drafts[key] = ev.target.value; },
  };
  let field;
  if (element.type === "plain_text_input") {
    field = el(element.multiline ? "textarea" : "input", props);
    field.value = state.drafts[key] ?? element.initial_value ?? "";
  } else {
    field = el("span", {className: "unsupported"}, `[${element.type || "unknown"} element]`);
  }
  const error = (state.fieldErrors[view && view.id] || {})[block.block_id]
    || ((view && view.errors) || {})[block.block_id] || "";
  return el("div", {className: `block input-block${error ? " has-error" : ""}`},
    el("label", {}, textObject(block.label), block.optional ? el("span", {className: "hint"}, " (optional)") : null),
    field,
    block.hint ? el("div", {className: "hint"}, textObject(block.hint)) : null,
    error ? el("div", {className: "error", role: "alert"}, error) : null);
}

// -- acting as the user ----------------------------------------------------------------

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  let answer = {};
  try { answer = await response.json(); } catch (e) { /* not JSON */ }
  return {ok: response.ok, answer};
}

function note(text) { $("composer-note").textContent = text; }

async function doAction(where, element, block) {
  const common = {user: state.user, action_id: element.action_id, block_id: block.block_id || "", value: element.value ?? ""};
  let result;
  if (where.kind === "message") {
    result = await post("/local/click", {user: state.user, channel: where.channel, ts: where.ts, action_id: element.action_id});
  } else if (where.kind === "ephemeral") {
    result = await post(`/local/ephemerals/${where.index}/click`, common);
  } else {
    result = await post("/local/home/click", common);
  }
  report(result);
  await refresh(true);
}

function report(result) {
  if (!result.ok) note(`Slack could not deliver that: ${result.answer.error || "error"}`);
  else if (result.answer.status && result.answer.status >= 400) note(`signoff answered HTTP ${result.answer.status}`);
  else note("");
}

function showConfirm(confirm, onConfirm) {
  state.confirming = {confirm, onConfirm};
  renderOverlay();
}

// -- what the stand-in recorded, as this user sees it ----------------------------------

function isDm(channel) { return /^[DUW]/.test(String(channel || "")); }

function dmOwner(data, channel) {
  if (/^[UW]/.test(channel)) return channel;
  for (const key of ["dms", "ims", "conversations"]) {
    const found = data[key];
    if (!found) continue;
    const entries = Array.isArray(found) ? found : Object.entries(found).map(([k, v]) =>
      typeof v === "string" ? {id: v, user: k} : {id: k, ...v});
    for (const entry of entries) {
      const id = (entry.channel && entry.channel.id) || entry.id || entry.channel;
      if (id !== channel) continue;
      const user = entry.user || (entry.users && [].concat(entry.users)[0]);
      if (user) return String(user).split(",")[0];
    }
  }
  // The stand-in's conversations.open names a DM channel "D" + the user's id.
  if (/^D[UW][A-Z0-9]+$/.test(channel)) return channel.slice(1);
  return null;  // unknown: shown to everyone
}

function homeFor(data, user) {
  if (data.home) {
    const home = Array.isArray(data.home)
      ? [...data.home].reverse().find((h) => (h.user || h.user_id) === user)
      : data.home[user];
    if (home) return home.view || home;
  }
  const view = [...(data.views || [])].reverse().find((v) =>
    v.view && v.view.type === "home" && (v.user || v.user_id) === user);
  if (view) return view.view;
  const call = [...(data.calls || [])].reverse().find((c) =>
    c.method === "views.publish" && !c.fault && c.args && c.args.user_id === user);
  if (call && call.args.view && typeof call.args.view === "object") return call.args.view;
  return null;
}

function channelsOf(data) {
  const channels = new Set([state.config ? state.config.default_channel || "approvals" : "approvals"]);
  for (const m of data.messages) if (!isDm(m.channel)) channels.add(m.channel);
  return [...channels];
}

function dmsOf(data, user) {
  const dms = new Set();
  for (const m of data.messages) {
    if (!isDm(m.channel)) continue;
    const owner = dmOwner(data, m.channel);
    if (owner === null || owner === user) dms.add(m.channel);
  }
  return [...dms];
}

function knownUsers(data) {
  const users = new Set();
  if (state.config) Object.values(state.config.users || {}).forEach((u) => users.add(u));
  const text = JSON.stringify(data.messages.map((m) => m.blocks));
  for (const m of text.matchAll(/<@([UW][A-Z0-9]+)>/g)) if (m[1] !== BOT_USER) users.add(m[1]);
  for (const e of data.ephemerals) if (e.user) users.add(e.user);
  users.add(state.user);
  return [...users].filter(Boolean).sort();
}

// -- rendering -------------------------------------------------------------------------

function timeOf(ts) {
  const d = new Date(Number(ts) * 1000);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString(undefined, {hour: "2-digit", minute: "2-digit"});
}

function messageNode(m, data, inThread) {
  const meta = el("div", {className: "message-meta"},
    el("span", {className: "author"}, m.user === BOT_USER || !m.user ? "signoff" : m.user),
    el("span", {className: "badge"}, "APP"),
    timeOf(m.ts), m.edits ? " (edited)" : "");
  const body = m.blocks && m.blocks.length
    ? renderBlocks(m.blocks, {kind: "message", channel: m.channel, ts: m.ts})
    : mrkdwn(m.text);
  const node = el("div", {className: "message", dataset: {ts: m.ts, channel: m.channel}}, meta, body);
  if (!inThread) {
    const replies = data.messages.filter((r) => r.thread_ts === m.ts && r.ts !== m.ts && r.channel === m.channel);
    if (replies.length) {
      node.append(el("button", {
        className: "replies", type: "button", dataset: {thread: m.ts},
        onclick: () => { state.thread = m.ts; render(); },
      }, `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`));
    }
  }
  return node;
}

function ephemeralNode(e, index) {
  const body = e.blocks && e.blocks.length ? renderBlocks(e.blocks, {kind: "ephemeral", index}) : mrkdwn(e.text);
  return el("div", {className: "message ephemeral", dataset: {ephemeral: index}},
    el("div", {className: "message-meta"}, el("span", {className: "author"}, "signoff"),
      el("span", {className: "badge"}, "APP"), timeOf(e.at),
      el("span", {className: "only-you"}, " · Only visible to you")),
    body);
}

function byTime(items) { return items.sort((a, b) => a.at - b.at); }

function renderFeed(data) {
  const feed = $("feed");
  const place = state.place;
  if (place.kind === "home") {
    $("pane-title").textContent = "signoff";
    $("pane-sub").textContent = "Home";
    $("composer").hidden = true;
    const view = homeFor(data, state.user);
    feed.replaceChildren(view
      ? el("div", {className: "home"}, renderBlocks(view.blocks, {kind: "home"}, view))
      : el("div", {className: "empty-state", dataset: {empty: "home"}},
        `signoff has not published a Home tab for ${state.user} yet.`));
    return;
  }
  $("composer").hidden = false;
  $("pane-title").textContent = isDm(place.id) ? "signoff" : `#${place.id}`;
  $("pane-sub").textContent = isDm(place.id) ? `direct messages (${place.id})` : "";
  const items = [];
  data.messages.forEach((m) => {
    if (m.channel !== place.id || (m.thread_ts && m.thread_ts !== m.ts)) return;
    items.push({at: Number(m.ts), node: () => messageNode(m, data, false)});
  });
  data.ephemerals.forEach((e, index) => {
    if (e.user !== state.user || e.thread_ts || (e.channel && e.channel !== place.id)) return;
    items.push({at: Number(e.at), node: () => ephemeralNode(e, index)});
  });
  // Like Slack: the newest at the bottom, followed while the reader is at the bottom;
  // read further up (or after a click re-renders it), the feed stays where it was.
  const placeKey = JSON.stringify(place);
  const following = feed.dataset.place !== placeKey
    || feed.scrollHeight - feed.scrollTop - feed.clientHeight < 40;
  const top = feed.scrollTop;
  feed.replaceChildren(...byTime(items).map((i) => i.node()));
  if (!items.length) feed.append(emptyGuidance(place));
  feed.dataset.place = placeKey;
  feed.scrollTop = following ? feed.scrollHeight : top;
  showFocused(feed);
}

// What an empty conversation is for, and how to fill it.
function emptyGuidance(place) {
  const users = (state.config && state.config.users) || {};
  const start = `signoff start --title "Deploy api v2" --approver ${users.approver || "U0APPROVER"} `
    + `--requester ${users.requester || "U0REQUESTER"} --wait`;
  const where = isDm(place.id)
    ? "signoff's direct messages to you appear here: a request you asked for, its outcome, reminders."
    : `Requests are posted here. Start one from a terminal (with SIGNOFF_LOCAL_URL=${location.origin} when not on port 3000):`;
  return el("div", {className: "empty-state", dataset: {empty: isDm(place.id) ? "dm" : "channel"}},
    el("p", {}, "No messages yet."),
    el("p", {}, where),
    isDm(place.id) ? null : el("pre", {}, start),
    el("p", {}, "Or type /signoff help below. Switch who you act as on the left: approve as an approver, cancel as the requester."));
}

// A permalink's message (the page was opened at /archives/…): scrolled into view, marked.
function showFocused(container) {
  if (!state.focusTs) return;
  const node = container.querySelector(`.message[data-ts="${CSS.escape(state.focusTs)}"]`);
  if (!node) return;
  node.classList.add("focused");
  node.scrollIntoView({block: "center"});
  state.focusTs = "";
}

function renderThread(data) {
  const pane = $("thread");
  const parent = state.thread && data.messages.find((m) => m.ts === state.thread);
  if (!parent || state.place.kind !== "channel") { pane.hidden = true; return; }
  pane.hidden = false;
  const items = [{at: Number(parent.ts), node: () => messageNode(parent, data, true)}];
  data.messages.forEach((m) => {
    if (m.thread_ts === parent.ts && m.ts !== parent.ts && m.channel === parent.channel) {
      items.push({at: Number(m.ts), node: () => messageNode(m, data, true)});
    }
  });
  data.ephemerals.forEach((e, index) => {
    if (e.user === state.user && e.thread_ts === parent.ts) items.push({at: Number(e.at), node: () => ephemeralNode(e, index)});
  });
  $("thread-feed").replaceChildren(...byTime(items).map((i) => i.node()));
  showFocused($("thread-feed"));
}

function renderNav(data) {
  const item = (label, place, extra) => el("button", {
    className: `nav-item${samePlace(place) ? " active" : ""}`, type: "button", dataset: extra,
    onclick: () => go(place),
  }, label);
  $("nav-channels").replaceChildren(...channelsOf(data).map((c) => item(`# ${c}`, {kind: "channel", id: c}, {channel: c})));
  $("nav-dms").replaceChildren(...dmsOf(data, state.user).map((c) => item(`signoff (${c})`, {kind: "channel", id: c}, {channel: c})));
  $("nav-home").classList.toggle("active", state.place.kind === "home");
  const select = $("user-select");
  const users = knownUsers(data);
  if (select.dataset.users !== users.join(",")) {
    select.replaceChildren(...users.map((u) => el("option", {value: u}, u)));
    select.dataset.users = users.join(",");
  }
  select.value = state.user;
}

function samePlace(place) {
  return place.kind === state.place.kind && place.id === state.place.id;
}

function openView(data) {
  return [...data.views].reverse().find((v) =>
    v.open && v.user === state.user && !state.closedViews.has(v.id) && (!v.view || v.view.type !== "home"));
}

function renderOverlay() {
  const overlay = $("overlay");
  const data = state.data;
  if (state.confirming) {
    if (state.shownView === "confirm") return;  // already on screen
    const {confirm, onConfirm} = state.confirming;
    const close = () => { state.confirming = null; state.shownView = ""; renderOverlay(); };
    overlay.replaceChildren(el("div", {className: "dialog", role: "alertdialog", "aria-modal": "true", "aria-label": confirm.title ? confirm.title.text : "confirm"},
      el("header", {}, textObject(confirm.title)),
      el("div", {className: "dialog-body"}, textObject(confirm.text)),
      el("footer", {},
        el("button", {className: "sk", type: "button", dataset: {role: "deny"}, onclick: close}, textObject(confirm.deny || {type: "plain_text", text: "Cancel"})),
        el("button", {className: `sk ${confirm.style || "primary"}`, type: "button", dataset: {role: "confirm"},
          onclick: () => { close(); onConfirm(); }}, textObject(confirm.confirm || {type: "plain_text", text: "Yes"})))));
    overlay.hidden = false;
    state.shownView = "confirm";
    focusDialog(overlay, close);
    return;
  }
  const record = data && openView(data);
  if (!record) { overlay.hidden = true; overlay.replaceChildren(); overlay.onkeydown = null; state.shownView = ""; return; }
  const view = {...record.view, id: record.id, errors: record.errors};
  const key = JSON.stringify([record.id, record.errors || {}, state.fieldErrors[record.id] || {}]);
  if (state.shownView === key) return;  // keep focus and typing undisturbed
  state.shownView = key;
  const close = () => {
    state.closedViews.add(record.id);
    sessionStorage.setItem("signoff.closedViews", JSON.stringify([...state.closedViews]));
    renderOverlay();
  };
  overlay.replaceChildren(el("div", {className: "dialog", role: "dialog", "aria-modal": "true", "aria-label": view.title ? view.title.text : "modal", dataset: {view: record.id}},
    el("header", {}, textObject(view.title), el("button", {className: "sk", type: "button", "aria-label": "close", onclick: close}, "×")),
    el("div", {className: "dialog-body"}, renderBlocks(view.blocks, null, view)),
    el("footer", {},
      el("button", {className: "sk", type: "button", dataset: {role: "close"}, onclick: close}, textObject(view.close || {type: "plain_text", text: "Cancel"})),
      view.submit ? el("button", {className: "sk primary", type: "button", dataset: {role: "submit"}, onclick: () => submitView(record)}, textObject(view.submit)) : null)));
  overlay.hidden = false;
  focusDialog(overlay, close);
}

// As Slack's dialogs: the keyboard starts in the dialog (its first field, else its last
// button: the action), Tab stays inside it, Escape closes it as its Cancel would.
function focusDialog(overlay, close) {
  const dialog = overlay.querySelector(".dialog");
  const focusable = () => [...dialog.querySelectorAll("textarea, input, select, button")];
  const field = dialog.querySelector(".dialog-body textarea, .dialog-body input");
  const buttons = dialog.querySelectorAll("footer button");
  (field || buttons[buttons.length - 1] || dialog).focus();
  overlay.onkeydown = (ev) => {
    if (ev.key === "Escape") { ev.preventDefault(); close(); return; }
    if (ev.key !== "Tab") return;
    const nodes = focusable();
    const i = nodes.indexOf(document.activeElement);
    const next = ev.shiftKey ? (i <= 0 ? nodes.length - 1 : i - 1) : (i + 1) % nodes.length;
    ev.preventDefault();
    nodes[next].focus();
  };
}

async function submitView(record) {
  const values = {};
  const missing = {};
  for (const block of record.view.blocks || []) {
    if (block.type !== "input" || !block.element) continue;
    const value = state.drafts[`${record.id}/${block.block_id}`] ?? "";
    // Slack refuses an empty required input in the client; the app never hears of it.
    if (!block.optional && value === "") missing[block.block_id] = "Please complete this required field.";
    values[block.block_id] = {[block.element.action_id]: value};
  }
  state.fieldErrors[record.id] = missing;
  if (Object.keys(missing).length) { renderOverlay(); return; }
  const result = await post(`/local/views/${record.id}/submit`, {user: state.user, values});
  report(result);
  await refresh(true);
}

function render() {
  const data = state.data;
  if (!data) return;
  renderNav(data);
  renderFeed(data);
  renderThread(data);
  renderOverlay();
}

async function refresh(force) {
  const response = await fetch("/local/messages");
  const data = await response.json();
  for (const key of ["messages", "ephemerals", "views", "calls"]) data[key] = data[key] || [];
  const dataKey = JSON.stringify(data);
  if (!force && dataKey === state.dataKey) return;
  state.data = data;
  state.dataKey = dataKey;
  render();
  document.body.dataset.refreshed = String(Date.now());
}

function go(place) {
  state.place = place;
  state.thread = null;
  const params = new URLSearchParams(location.search);
  if (place.kind === "home") { params.set("tab", "home"); params.delete("channel"); }
  else { params.delete("tab"); params.set("channel", place.id); }
  history.replaceState(null, "", `?${params}`);
  if (place.kind === "home" && state.homeOpenedFor !== state.user) {
    // Slack tells the app each time a user opens its Home tab.
    state.homeOpenedFor = state.user;
    post("/local/home/opened", {user: state.user}).then(() => refresh(true));
  }
  render();
}

function switchUser(user) {
  user = String(user || "").trim();
  if (!user) return;
  state.user = user;
  state.homeOpenedFor = "";
  state.shownView = "";
  state.confirming = null;
  const params = new URLSearchParams(location.search);
  params.set("user", user);
  history.replaceState(null, "", `?${params}`);
  note("");
  if (state.place.kind === "home") go(state.place);
  render();
}

async function command(text) {
  const match = /^\/signoff(?:\s+|$)(.*)$/s.exec(text.trim());
  if (!match) { note("Only the /signoff command works here (try /signoff help)."); return; }
  const channel = state.place.kind === "channel" ? state.place.id : "approvals";
  const result = await post("/local/command", {user: state.user, text: match[1], channel});
  report(result);
  await refresh(true);
}

// A Slack permalink to one of this page's messages (what chat.getPermalink gives, e.g.
// in a DM): /archives/C…/p<ts without its dot>.
function permalinkTarget(href) {
  let url;
  try { url = new URL(href, location.href); } catch { return null; }
  const m = /^\/archives\/([^/]+)\/p(\d{7,})(\d{6})$/.exec(url.pathname);
  if (url.origin !== location.origin || !m) return null;
  return {channel: decodeURIComponent(m[1]), ts: `${m[2]}.${m[3]}`, thread: url.searchParams.get("thread_ts") || ""};
}

function openPermalink(target) {
  const data = state.data;
  const message = data && data.messages.find((x) => x.channel === target.channel && x.ts === target.ts);
  go({kind: "channel", id: target.channel});
  const parent = target.thread || (message && message.thread_ts !== message.ts && message.thread_ts) || "";
  if (parent) { state.thread = parent; }
  state.focusTs = target.ts;
  render();
}

async function main() {
  state.config = await (await fetch("/local/config")).json();
  const params = new URLSearchParams(location.search);
  state.focusTs = params.get("ts") || "";
  state.user = params.get("user") || state.config.users.approver;
  const defaultChannel = state.config.default_channel || "approvals";
  state.place = params.get("tab") === "home" ? {kind: "home"} : {kind: "channel", id: params.get("channel") || defaultChannel};
  if (state.config.slack && state.config.slack !== "standin") {
    const noteNode = $("mode-note");
    noteNode.hidden = false;
    noteNode.textContent = "Slack is a real workspace (Socket Mode): this page shows only the local stand-in.";
  }
  $("user-select").addEventListener("change", (ev) => switchUser(ev.target.value));
  $("user-form").addEventListener("submit", (ev) => { ev.preventDefault(); switchUser($("user-other").value); $("user-other").value = ""; });
  $("nav-home").addEventListener("click", () => go({kind: "home"}));
  document.addEventListener("click", (ev) => {
    const link = ev.target.closest && ev.target.closest("a[href]");
    const target = link && permalinkTarget(link.getAttribute("href"));
    if (!target) return;
    ev.preventDefault();
    openPermalink(target);
  });
  $("thread-close").addEventListener("click", () => { state.thread = null; render(); });
  $("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("composer-text").value;
    $("composer-text").value = "";
    command(text);
  });
  await refresh(true);
  const linked = state.focusTs && state.data.messages.find((m) => m.ts === state.focusTs);
  if (linked && linked.thread_ts && linked.thread_ts !== linked.ts) { state.thread = linked.thread_ts; render(); }
  if (state.place.kind === "home") go(state.place);
  document.body.dataset.ready = "1";
  setInterval(() => { refresh(false).catch(() => {}); }, 1000);
}

main();
