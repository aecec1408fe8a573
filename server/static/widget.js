/*! askwiki widget: paste one <script src="https://ASKWIKI_HOST/widget.js" async></script>.
 * Dependency-free; lives in a Shadow DOM; the only global is window.AskwikiWidget.
 * Server text is only ever set with textContent / attributes, never parsed as HTML. */
(function () {
  'use strict';
  var PREFIX = '[askwiki]';
  if (window.AskwikiWidget) {
    console.warn(PREFIX, 'widget.js was loaded twice; keeping the first widget');
    return;
  }

  var script = document.currentScript || findScript();
  if (!script || !script.src) {
    console.warn(PREFIX, 'cannot find the <script src=".../widget.js"> tag; the widget is disabled');
    return;
  }
  var BASE = new URL('.', script.src).href;
  var API = new URL('api/ask', BASE).href;
  var MAX_HISTORY = 8;
  // The conversation survives navigation within the tab; older turns are dropped.
  var STORE_KEY = 'askwiki-conversation:' + BASE;
  var MAX_SAVED_TURNS = 10;
  var MAX_TURN_CHARS = 8000;

  // The interface strings, zh and en: the server fills them in from its one table
  // (askwiki/server/i18n.py), shared with the HTML pages.
  var TEXT = /*ASKWIKI_WIDGET_TEXT*/null;

  function findScript() {
    var tags = document.querySelectorAll('script[src]');
    for (var i = tags.length - 1; i >= 0; i--) {
      if (/\/widget\.js(?:[?#]|$)/.test(tags[i].src)) return tags[i];
    }
    return null;
  }

  function choice(data, name, allowed, fallback) {
    var value = data[name];
    if (value === undefined) return fallback;
    value = value.trim().toLowerCase();
    if (allowed.indexOf(value) >= 0) return value;
    console.warn(PREFIX, 'data-' + name + '="' + data[name] + '" is not one of ' +
      allowed.join(', ') + '; using "' + fallback + '"');
    return fallback;
  }

  function text(data, name) {
    var value = data[name];
    if (value === undefined) return null;
    value = value.trim();
    if (!value || value.length > 300) {
      console.warn(PREFIX, 'data-' + name + ' must be 1-300 characters; using the default');
      return null;
    }
    return value;
  }

  function readOptions(data) {
    var color = data.color === undefined ? '#2563eb' : data.color.trim();
    if (!/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(color)) {
      console.warn(PREFIX, 'data-color="' + data.color + '" is not a #rgb or #rrggbb colour; using #2563eb');
      color = '#2563eb';
    }
    return {
      lang: choice(data, 'lang', ['auto', 'zh', 'en'], 'auto'),
      position: choice(data, 'position', ['bottom-right', 'bottom-left'], 'bottom-right'),
      open: choice(data, 'open', ['false', 'true'], 'false') === 'true',
      color: color,
      title: text(data, 'title'),
      placeholder: text(data, 'placeholder'),
      greeting: text(data, 'greeting')
    };
  }

  var opts = readOptions(script.dataset);
  var lang = opts.lang !== 'auto' ? opts.lang :
    /^zh\b/i.test(navigator.language || '') ? 'zh' : 'en';
  var history = [];
  var savedTurns = [];
  var busy = false;
  var session = sessionId();

  function t() { return TEXT[lang]; }

  function sessionId() {
    var key = 'askwiki-session:' + BASE;
    try {
      var saved = sessionStorage.getItem(key);
      if (saved && /^[0-9a-f]{32}$/.test(saved)) return saved;
    } catch (e) { /* storage blocked: an in-memory id is fine */ }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    var id = Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join('');
    try { sessionStorage.setItem(key, id); } catch (e) { /* see above */ }
    return id;
  }

  function contrastOn(hex) {
    var h = hex.length === 4 ? hex.replace(/[0-9a-f]/gi, '$&$&') : hex;
    var rgb = [1, 3, 5].map(function (i) { return parseInt(h.substr(i, 2), 16) / 255; });
    var lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    return lum > 0.6 ? '#111827' : '#ffffff';
  }

  // ---- DOM helpers: every piece of server text goes through textContent. ----
  function el(tag, cls, content) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (content !== undefined && content !== null) node.textContent = String(content);
    return node;
  }

  function button(cls, label, onClick) {
    var b = el('button', cls, label);
    b.type = 'button';
    b.addEventListener('click', onClick);
    return b;
  }

  function safeUrl(url) {
    if (typeof url !== 'string' || !url) return null;
    try {
      var u = new URL(url, BASE);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  // ---- Shadow DOM shell, built now (hidden) so opening is instant. ----
  var CSS = `:host { all: initial !important; display: block !important; position: static !important; }
.wrap {
  --bg: #ffffff; --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --soft: #f3f4f6;
  --user: var(--accent); --on-user: var(--on-accent);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
  color: var(--fg); -webkit-text-size-adjust: 100%;
}
@media (prefers-color-scheme: dark) {
  .wrap { --bg: #111827; --fg: #f3f4f6; --muted: #9ca3af; --line: #374151; --soft: #1f2937; }
}
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
button { font: inherit; color: inherit; cursor: pointer; }
button:disabled { cursor: default; opacity: .55; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
svg { width: 22px; height: 22px; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }
.launcher {
  position: fixed; z-index: 2147483000; right: 20px; bottom: 20px; width: 56px; height: 56px;
  display: flex; align-items: center; justify-content: center; border: 0; border-radius: 50%;
  background: var(--accent); color: var(--on-accent); box-shadow: 0 4px 14px rgba(0,0,0,.25);
}
.launcher svg { width: 26px; height: 26px; }
.launcher .i-down, .is-open .launcher .i-chat { display: none; }
.is-open .launcher .i-down { display: block; }
.launcher:focus-visible { outline-color: var(--fg); outline-offset: 3px; }
.left .launcher, .left .panel { right: auto; left: 20px; }
.panel {
  position: fixed; z-index: 2147483001; right: 20px; bottom: 88px; width: 380px;
  height: min(600px, calc(100vh - 108px)); max-width: calc(100vw - 40px);
  display: flex; flex-direction: column; overflow: hidden;
  background: var(--bg); color: var(--fg); border: 1px solid var(--line); border-radius: 14px;
  box-shadow: 0 12px 40px rgba(0,0,0,.22);
}
.head { display: flex; align-items: center; gap: 4px; padding: 10px 8px 10px 16px; background: var(--accent); color: var(--on-accent); }
.title { flex: 1; margin: 0; font-size: 15px; font-weight: 600; line-height: 1.3; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.icon-btn { display: flex; padding: 6px; border: 0; border-radius: 8px; background: transparent; color: inherit; }
.icon-btn svg { width: 20px; height: 20px; }
.icon-btn:hover { background: rgba(127,127,127,.25); }
.icon-btn:focus-visible { outline-color: var(--on-accent); outline-offset: -2px; }
.log { flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 10px; overscroll-behavior: contain; }
.msg { max-width: 88%; padding: 8px 12px; border-radius: 12px; overflow-wrap: anywhere; }
.msg.user { align-self: flex-end; background: var(--user); color: var(--on-user); border-bottom-right-radius: 4px; white-space: pre-wrap; }
.msg.bot { align-self: flex-start; background: var(--soft); border-bottom-left-radius: 4px; }
.msg.error { border: 1px solid #dc2626; }
.body p, .body ul, .body ol, .body blockquote { margin: 0 0 6px; }
.body > :last-child { margin-bottom: 0; }
.body ul, .body ol { padding-left: 20px; }
.body blockquote, .ref-excerpt { margin: 0 0 6px; padding-left: 10px; border-left: 3px solid var(--line); color: var(--muted); }
.body code { font: 12.5px ui-monospace, Menlo, Consolas, monospace; background: var(--line); padding: 0 4px; border-radius: 4px; }
.body .h { font-weight: 600; }
.streaming { white-space: pre-wrap; }
.nb { white-space: nowrap; }
.streaming::after { content: "▍"; opacity: .6; }
.msg[data-state="waiting"] .body { color: var(--muted); font-style: italic; }
.cite {
  display: inline-block; min-width: 20px; margin: 0 1px; padding: 0 5px; border: 1px solid var(--accent);
  border-radius: 9px; background: transparent; color: var(--fg); font-size: 11px; line-height: 16px; vertical-align: 1px;
}
.cite[aria-expanded="true"], .cite:hover { background: var(--accent); color: var(--on-accent); }
.sources, .related { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
.label { width: 100%; font-size: 12px; color: var(--muted); }
.src, .suggest, .retry {
  max-width: 100%; padding: 3px 9px; border: 1px solid var(--line); border-radius: 12px;
  background: var(--bg); font-size: 12.5px; text-align: left; overflow: hidden; text-overflow: ellipsis;
}
.src[aria-expanded="true"], .src:hover, .suggest:hover, .retry:hover { border-color: var(--accent); }
.retry { margin-top: 6px; }
a.src { color: var(--fg); text-decoration: none; white-space: nowrap; }
.ref { margin-top: 8px; padding: 8px 10px; border: 1px solid var(--line); border-radius: 10px; background: var(--bg); font-size: 13px; }
.ref p { margin: 0 0 4px; }
.ref-title { font-weight: 600; }
.ref-section { color: var(--muted); font-size: 12px; }
.ref-link { color: var(--accent); font-weight: 600; text-decoration: underline; }
@media (prefers-color-scheme: dark) { .ref-link { color: var(--fg); } }
.reviewed { margin: 6px 0 0; font-size: 12px; color: var(--accent); }
.notice { margin: 0; padding: 4px 14px; font-size: 11.5px; color: var(--muted); text-align: center; border-top: 1px solid var(--line); }
.ask { display: flex; gap: 8px; padding: 8px 10px 10px; }
.input {
  flex: 1; min-height: 40px; max-height: 120px; resize: none; padding: 9px 10px; font: inherit; color: var(--fg);
  background: var(--bg); border: 1px solid var(--line); border-radius: 10px;
}
.input::placeholder { color: var(--muted); }
.input:focus-visible { outline: 2px solid var(--accent); outline-offset: -1px; }
.send { padding: 0 14px; border: 0; border-radius: 10px; background: var(--accent); color: var(--on-accent); font-weight: 600; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 480px) {
  .panel, .left .panel { inset: 0; width: 100%; max-width: none; height: 100%; height: 100dvh; border: 0; border-radius: 0; }
  .is-open .launcher { display: none; }
  .msg { max-width: 92%; }
  .input { font-size: 16px; } /* below 16px, iOS zooms the page on focus */
}
@media (prefers-reduced-motion: no-preference) { .panel { animation: aw-in .16s ease-out; } }
@keyframes aw-in { from { opacity: 0; transform: translateY(8px); } to { opacity: 1; transform: none; } }
`;
  var host = document.createElement('askwiki-widget');
  var root = host.attachShadow({ mode: 'open' });
  if (root.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === 'function') {
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.appendChild(el('style', null, CSS));
    }
  } else {
    root.appendChild(el('style', null, CSS));
  }
  var wrap = el('div', 'wrap' + (opts.position === 'bottom-left' ? ' left' : ''));
  wrap.style.setProperty('--accent', opts.color);
  wrap.style.setProperty('--on-accent', contrastOn(opts.color));
  root.appendChild(wrap);

  var launcher = button('launcher', null, function () { toggle(); });
  launcher.setAttribute('aria-expanded', 'false');
  launcher.setAttribute('aria-controls', 'aw-panel');
  launcher.append(icon('M4 4h16v11H8l-4 4z', 'i-chat'), icon('M6 9l6 6 6-6', 'i-down'));
  var panel = el('div', 'panel');
  panel.id = 'aw-panel';
  panel.hidden = true;
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-modal', 'false');
  panel.setAttribute('aria-labelledby', 'aw-title');
  var header = el('div', 'head');
  var title = el('h2', 'title');
  title.id = 'aw-title';
  var resetBtn = button('icon-btn', null, reset);
  resetBtn.appendChild(icon('M4 12a8 8 0 1 0 3-6.2M4 4v4h4'));
  var closeBtn = button('icon-btn', null, function () { close(); });
  closeBtn.appendChild(icon('M6 6l12 12M18 6L6 18'));
  header.append(title, resetBtn, closeBtn);
  var log = el('div', 'log');
  log.setAttribute('role', 'log');
  log.setAttribute('aria-live', 'polite');
  var greeting = el('div', 'msg bot greeting');
  log.appendChild(greeting);
  var notice = el('p', 'notice');
  var form = el('form', 'ask');
  var label = el('label', 'sr');
  label.htmlFor = 'aw-input';
  var input = el('textarea', 'input');
  input.id = 'aw-input';
  input.rows = 1;
  input.maxLength = 2000;
  var sendBtn = el('button', 'send');
  sendBtn.type = 'submit';
  form.append(label, input, sendBtn);
  panel.append(header, log, notice, form);
  wrap.append(panel, launcher);

  function icon(path, cls) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    if (cls) svg.setAttribute('class', cls);
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    var p = document.createElementNS(ns, 'path');
    p.setAttribute('d', path);
    svg.appendChild(p);
    return svg;
  }

  function applyTexts() {
    var s = t();
    host.setAttribute('lang', lang === 'zh' ? 'zh-CN' : 'en');
    title.textContent = opts.title || s.title;
    launcher.setAttribute('aria-label', opts.title ? s.open + ': ' + opts.title : s.open);
    resetBtn.setAttribute('aria-label', s.reset);
    resetBtn.title = s.reset;
    closeBtn.setAttribute('aria-label', s.close);
    closeBtn.title = s.close;
    greeting.textContent = opts.greeting || s.greeting;
    notice.textContent = s.notice;
    label.textContent = s.question;
    input.placeholder = opts.placeholder || s.placeholder;
    sendBtn.textContent = s.send;
  }

  function setLang(next) {
    if (opts.lang === 'auto' && TEXT[next] && next !== lang) {
      lang = next;
      applyTexts();
    }
  }

  function open(focus) {
    panel.hidden = false;
    wrap.classList.add('is-open');
    launcher.setAttribute('aria-expanded', 'true');
    if (focus !== false) input.focus();
    scrollDown(true);
    save();
  }

  function close() {
    if (panel.hidden) return;
    panel.hidden = true;
    wrap.classList.remove('is-open');
    launcher.setAttribute('aria-expanded', 'false');
    launcher.focus();
    save();
  }

  function toggle() {
    if (panel.hidden) open(); else close();
  }

  function reset() {
    if (busy) return;
    history = [];
    savedTurns = [];
    try { sessionStorage.removeItem(STORE_KEY); } catch (e) { /* storage blocked */ }
    while (log.lastChild && log.lastChild !== greeting) log.removeChild(log.lastChild);
    input.focus();
  }

  // ---- The conversation in sessionStorage: only what renderDone shows, as plain data. ----
  function sourceData(s) {
    return { n: s.n, title: s.title, section: s.section, url: s.url, excerpt: s.excerpt, page: s.page, cited: s.cited };
  }

  function answerData(answer) {
    function list(v) { return (Array.isArray(v) ? v : []).filter(function (s) { return s && typeof s === 'object'; }); }
    return {
      answer: String(answer.answer || ''),
      language: answer.language,
      curated: answer.curated === true,
      sources: list(answer.sources).map(sourceData),
      closest: list(answer.closest).map(sourceData),
      related: list(answer.related).slice(0, 5).map(function (r) { return { question: r.question }; })
    };
  }

  function remember(question, answer) {
    history.push({ role: 'user', content: question.slice(0, MAX_TURN_CHARS) });
    history.push({ role: 'assistant', content: String(answer.answer || '').slice(0, MAX_TURN_CHARS) });
    history = history.slice(-MAX_HISTORY);
    savedTurns.push({ q: question, a: answerData(answer) });
    savedTurns = savedTurns.slice(-MAX_SAVED_TURNS);
  }

  function save() {
    var state = { v: 1, open: !panel.hidden, turns: savedTurns };
    try { sessionStorage.setItem(STORE_KEY, JSON.stringify(state)); } catch (e) { /* blocked or full */ }
  }

  function restore() {
    var state = null;
    try { state = JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null'); } catch (e) { state = null; }
    if (!state || state.v !== 1 || !Array.isArray(state.turns)) return false;
    state.turns.forEach(function (turn) {
      if (!turn || typeof turn.q !== 'string' || !turn.a || typeof turn.a !== 'object') return;
      addMessage('user', turn.q);
      var msg = addMessage('bot', '');
      renderDone(msg, turn.a);
      msg.node.dataset.state = 'done';
      if (turn.a.language === 'zh' || turn.a.language === 'en') setLang(turn.a.language);
      remember(turn.q, turn.a);
    });
    return state.open === true;
  }

  function scrollDown(force) {
    if (force || log.scrollHeight - log.scrollTop - log.clientHeight < 80) {
      log.scrollTop = log.scrollHeight;
    }
  }

  // ---- Answer rendering: a small Markdown subset, built node by node. ----
  var MARK = '\\[\\d{1,2}(?:\\s*,\\s*\\d{1,2})*\\]';
  var INLINE = new RegExp('(\\*\\*[^*\\n]+\\*\\*|`[^`\\n]+`|' + MARK + '(?:\\s*' + MARK + ')*)', 'g');
  var CLOSING = /^[。，、！？；：.,!?;:)）」』]+/;

  function inline(parent, line, cite) {
    var last = 0;
    line.replace(INLINE, function (match, _g, offset) {
      var kind = match.charAt(0);
      if (kind === '[') {
        // Keep the word before and the punctuation after on the marker's line.
        var before = offset > last && /\S/.test(line.charAt(offset - 1)) ? line.charAt(offset - 1) : '';
        var after = (CLOSING.exec(line.slice(offset + match.length)) || [''])[0];
        if (offset - before.length > last) parent.append(line.slice(last, offset - before.length));
        var group = el('span', 'nb', before);
        match.match(/\d+/g).forEach(function (n) {
          group.append(cite(parseInt(n, 10)) || '[' + n + ']');
        });
        group.append(after);
        parent.append(group);
        last = offset + match.length + after.length;
        return match;
      }
      if (offset > last) parent.append(line.slice(last, offset));
      if (kind === '*') parent.append(el('strong', null, match.slice(2, -2)));
      else parent.append(el('code', null, match.slice(1, -1)));
      last = offset + match.length;
      return match;
    });
    if (last < line.length) parent.append(line.slice(last));
  }

  function renderMarkdown(parent, source, cite) {
    var block = null;
    var kind = '';
    source.split('\n').forEach(function (raw) {
      var line = raw.replace(/\s+$/, '');
      var m;
      if (!line.trim()) { block = null; kind = ''; return; }
      if ((m = /^\s*(?:[-*+]|(\d+)[.)])\s+(.*)$/.exec(line))) {
        var tag = m[1] ? 'ol' : 'ul';
        if (kind !== tag) { block = el(tag); parent.append(block); kind = tag; }
        var li = el('li');
        inline(li, m[2], cite);
        block.append(li);
      } else if ((m = /^#{1,6}\s+(.*)$/.exec(line))) {
        var h = el('p', 'h');
        inline(h, m[1], cite);
        parent.append(h);
        block = null; kind = '';
      } else if ((m = /^>\s?(.*)$/.exec(line))) {
        if (kind !== 'quote') { block = el('blockquote'); parent.append(block); kind = 'quote'; }
        else block.append(el('br'));
        inline(block, m[1], cite);
      } else {
        if (kind !== 'p') { block = el('p'); parent.append(block); kind = 'p'; }
        else block.append(el('br'));
        inline(block, line, cite);
      }
    });
  }

  function sourceLine(src) {
    var bits = [];
    if (src.section && src.section !== src.title) bits.push(String(src.section));
    if (typeof src.page === 'number') bits.push(lang === 'zh' ? '第 ' + src.page + ' 页' : t().page + ' ' + src.page);
    return bits.join(' · ');
  }

  function renderDone(msg, answer) {
    var sources = Array.isArray(answer.sources) ? answer.sources : [];
    var byN = {};
    sources.forEach(function (s) { if (s && typeof s.n === 'number') byN[s.n] = s; });
    var card = el('div', 'ref');
    card.id = 'aw-ref-' + Math.random().toString(36).slice(2);
    card.hidden = true;
    var shown = null;
    var buttons = [];

    function show(n) {
      var src = byN[n];
      shown = shown === n ? null : n;
      buttons.forEach(function (b) {
        b.setAttribute('aria-expanded', String(shown !== null && b.dataset.n === String(shown)));
      });
      card.replaceChildren();
      card.hidden = shown === null;
      if (shown === null) return;
      card.append(el('p', 'ref-title', '[' + n + '] ' + (src.title || '')));
      var where = sourceLine(src);
      if (where) card.append(el('p', 'ref-section', where));
      if (src.excerpt) card.append(el('blockquote', 'ref-excerpt', src.excerpt));
      var href = safeUrl(src.url);
      if (href) {
        var a = el('a', 'ref-link', t().openPage + ' ↗');
        a.href = href;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        card.append(a);
      }
      scrollDown(false);
    }

    function cite(n, cls, label) {
      if (!byN[n]) return null;
      var b = button(cls || 'cite', label || String(n), function () { show(n); });
      b.dataset.n = String(n);
      b.setAttribute('aria-expanded', 'false');
      b.setAttribute('aria-controls', card.id);
      b.setAttribute('aria-label', t().source + ' ' + n + ': ' + (byN[n].title || ''));
      buttons.push(b);
      return b;
    }

    var body = el('div', 'body');
    renderMarkdown(body, String(answer.answer || ''), function (n) { return cite(n); });
    msg.body.replaceWith(body);
    msg.body = body;
    // An editor's answer says so, instead of the panel's AI notice covering it.
    if (answer.curated === true) msg.node.append(el('p', 'reviewed', t().reviewed));
    var cited = sources.filter(function (s) { return s && s.cited && byN[s.n]; });
    if (cited.length) {
      var list = el('div', 'sources');
      list.append(el('span', 'label', t().sources));
      cited.forEach(function (s) { list.append(cite(s.n, 'src', '[' + s.n + '] ' + (s.title || ''))); });
      msg.node.append(list);
    }
    msg.node.append(card);
    var closest = Array.isArray(answer.closest) ? answer.closest : [];
    closest = closest.filter(function (p) { return p && typeof p.title === 'string'; });
    if (closest.length) {
      var near = el('div', 'sources closest');
      near.append(el('span', 'label', t().closest));
      closest.slice(0, 3).forEach(function (p) {
        var href = safeUrl(p.url);
        var where = sourceLine(p);
        var lead = p.title + ' › ';
        if (where.indexOf(lead) === 0) where = where.slice(lead.length);
        var item = el(href ? 'a' : 'span', 'src', p.title + (where ? ' · ' + where : ''));
        if (href) {
          item.href = href;
          item.target = '_blank';
          item.rel = 'noopener noreferrer';
        }
        if (p.excerpt) item.title = String(p.excerpt);
        near.append(item);
      });
      msg.node.append(near);
    }
    var related = Array.isArray(answer.related) ? answer.related : [];
    related = related.filter(function (r) { return r && typeof r.question === 'string' && r.question.trim(); });
    if (related.length) {
      var box = el('div', 'related');
      box.append(el('span', 'label', t().related));
      related.slice(0, 5).forEach(function (r) {
        box.append(button('suggest', r.question, function () { ask(r.question); }));
      });
      msg.node.append(box);
    }
  }

  // ---- Talking to the server. ----
  function addMessage(role, content) {
    var node = el('div', 'msg ' + role);
    var body = el('div', 'body', content);
    node.append(body);
    log.append(node);
    scrollDown(true);
    return { node: node, body: body };
  }

  function fail(msg, message, retry, waitS) {
    msg.node.dataset.state = 'error';
    msg.node.classList.add('error');
    var body = el('div', 'body');
    body.append(el('p', null, message));
    var again = button('retry', t().retry, function () {
      log.removeChild(msg.node);
      retry();
    });
    if (waitS > 0) {
      again.disabled = true;
      setTimeout(function () { again.disabled = false; }, waitS * 1000);
    }
    body.append(again);
    msg.body.replaceWith(body);
    msg.body = body;
  }

  function errorMessage(status, body, retryAfter) {
    if (status === 429) {
      var n = parseInt(retryAfter, 10) || (body && body.retry_after) || 60;
      return { text: t().rate.replace('{seconds}', n), wait: n };
    }
    var detail = body && body.detail;
    if (Array.isArray(detail)) {
      detail = detail.map(function (d) { return d && d.msg; }).filter(Boolean).join('; ');
    }
    if (typeof detail === 'string' && detail) return { text: detail, wait: 0 };
    return { text: status === 503 ? t().unavailable : t().failed.replace('{status}', status), wait: 0 };
  }

  async function readEvents(response, on) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = '';
    for (;;) {
      var chunk = await reader.read();
      buffer += decoder.decode(chunk.value || new Uint8Array(0), { stream: !chunk.done });
      buffer = buffer.replace(/\r\n/g, '\n');
      var cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        dispatch(buffer.slice(0, cut), on);
        buffer = buffer.slice(cut + 2);
      }
      if (chunk.done) {
        if (buffer.trim()) dispatch(buffer, on);
        return;
      }
    }
  }

  function dispatch(block, on) {
    var event = 'message';
    var data = [];
    block.split('\n').forEach(function (line) {
      if (!line || line.charAt(0) === ':') return;
      var colon = line.indexOf(':');
      var field = colon < 0 ? line : line.slice(0, colon);
      var value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    });
    if (data.length) on(event, JSON.parse(data.join('\n')));
  }

  async function send(question) {
    busy = true;
    sendBtn.disabled = true;
    log.setAttribute('aria-busy', 'true');
    var msg = addMessage('bot', t().thinking);
    msg.node.dataset.state = 'waiting';
    var streamed = null;
    var turns = history.slice(-MAX_HISTORY);
    var retry = function () { if (!busy) send(question); };
    try {
      var response;
      try {
        response = await fetch(API, {
          method: 'POST',
          mode: 'cors',
          credentials: 'omit',
          headers: {
            'Content-Type': 'application/json',
            'Accept': 'text/event-stream',
            'X-Askwiki-Session': session
          },
          body: JSON.stringify({ question: question, history: turns, stream: true })
        });
      } catch (e) {
        console.warn(PREFIX, 'request to ' + API + ' failed. If the server is up, add this origin (' +
          location.origin + ') to ASKWIKI_ALLOWED_ORIGINS.', e);
        fail(msg, t().network, retry, 0);
        return;
      }
      if (!response.ok) {
        var body = null;
        try { body = await response.json(); } catch (e) { /* not JSON: use the status */ }
        var err = errorMessage(response.status, body, response.headers.get('Retry-After'));
        fail(msg, err.text, retry, err.wait);
        return;
      }
      var finished = false;
      await readEvents(response, function (event, data) {
        if (event === 'token' && data && typeof data.text === 'string') {
          if (!streamed) {
            streamed = document.createTextNode('');
            var live = el('div', 'body streaming');
            live.append(streamed);
            msg.body.replaceWith(live);
            msg.body = live;
            msg.node.dataset.state = 'streaming';
          }
          streamed.appendData(data.text);
          scrollDown(false);
        } else if (event === 'done' && data) {
          finished = true;
          if (data.language === 'zh' || data.language === 'en') setLang(data.language);
          renderDone(msg, data);
          msg.node.dataset.state = 'done';
          remember(question, data);
          save();
        } else if (event === 'error') {
          finished = true;
          var e = errorMessage((data && data.status) || 500, data, null);
          fail(msg, e.text, retry, e.wait);
        }
      });
      if (!finished) fail(msg, t().interrupted, retry, 0);
    } catch (e) {
      console.warn(PREFIX, 'answer stream failed', e);
      fail(msg, t().interrupted, retry, 0);
    } finally {
      busy = false;
      sendBtn.disabled = false;
      log.setAttribute('aria-busy', 'false');
      scrollDown(false);
    }
  }

  function ask(question) {
    question = String(question || '').trim();
    if (!question || busy) return false;
    if (/[\u3400-\u9fff]/.test(question)) setLang('zh');
    else if (/[a-z]{3}/i.test(question)) setLang('en');
    if (panel.hidden) open(false);
    addMessage('user', question);
    send(question);
    return true;
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    if (ask(input.value)) input.value = '';
  });
  input.addEventListener('keydown', function (e) {
    // isComposing: Enter that confirms a Chinese IME candidate must not send.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      if (typeof form.requestSubmit === 'function') form.requestSubmit();
      else if (ask(input.value)) input.value = '';
    }
  });
  wrap.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && !panel.hidden) {
      e.stopPropagation();
      close();
    }
  });

  applyTexts();
  function mount() {
    (document.body || document.documentElement).appendChild(host);
    var wasOpen = restore();
    if (opts.open || wasOpen) open(false);
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);

  window.AskwikiWidget = Object.freeze({
    version: '1',
    open: function () { open(); },
    close: close,
    toggle: toggle,
    ask: ask,
    reset: reset
  });
})();
