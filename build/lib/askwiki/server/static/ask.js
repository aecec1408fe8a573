/* askwiki pages: stream answers from /api/ask (Server-Sent Events over fetch).
 * Progressive enhancement only: every form also works without this script.
 * Untrusted text (question, tokens, sources) is only ever set with textContent; the final
 * answer is the server-rendered, escaped fragment of /q/{id}?partial=1. */
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function safeHref(url) {
    if (!url) return null;
    try {
      var parsed = new URL(url, window.location.href);
      return ["http:", "https:", "mailto:"].indexOf(parsed.protocol) >= 0 ? parsed.href : null;
    } catch (err) {
      return null;
    }
  }

  // The heading path without the page title it repeats, as the server renders it.
  function sectionTail(section, title) {
    if (!section || section === title) return "";
    var prefix = title + " \u203a ";
    return section.indexOf(prefix) === 0 ? section.slice(prefix.length) : section;
  }

  function parseEvent(block) {
    var event = "message";
    var data = [];
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) event = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
    });
    return { event: event, data: data.length ? JSON.parse(data.join("\n")) : null };
  }

  function renderSources(box, sources, label) {
    box.textContent = "";
    if (!sources.length) return;
    box.appendChild(el("h2", "", label));
    var list = el("ol");
    sources.forEach(function (source) {
      var item = el("li");
      item.appendChild(el("span", "ref-n", "[" + source.n + "]"));
      var body = el("div", "ref-body");
      var href = safeHref(source.url);
      var title = el(href ? "a" : "span", "ref-title", source.title);
      if (href) {
        title.href = href;
        title.rel = "noopener noreferrer";
      }
      body.appendChild(title);
      var section = sectionTail(source.section, source.title);
      if (section) body.appendChild(el("span", "ref-section", section));
      body.appendChild(el("blockquote", "ref-excerpt", source.excerpt));
      item.appendChild(body);
      list.appendChild(item);
    });
    box.appendChild(list);
    box.hidden = false;
  }

  async function showFinal(form, live, answer) {
    var lang = form.querySelector("input[name=lang]");
    var page = "/q/" + encodeURIComponent(answer.id);
    var query = lang ? "lang=" + encodeURIComponent(lang.value) : "";
    // A follow-up asked on a question page gets its own page: its #ref-n anchors would
    // clash with the references already on this one.
    var taken = Array.prototype.some.call(document.querySelectorAll("[id^='ref-']"), function (node) {
      return !live.contains(node);
    });
    if (taken) {
      window.location.assign(page + (query ? "?" + query : ""));
      return true;
    }
    var url = page + "?partial=1" + (query ? "&" + query : "");
    var response = await fetch(url, { headers: { Accept: "text/html" } });
    if (!response.ok) return false;
    live.innerHTML = await response.text(); // server-rendered and escaped
    enhance(live);
    var link = live.querySelector(".question a");
    if (link && window.history && window.history.pushState) {
      window.history.pushState({ answer: answer.id }, "", link.getAttribute("href"));
    }
    return true;
  }

  async function ask(form, live) {
    var input = form.querySelector("textarea[name=question]");
    var question = input.value.trim();
    if (!question) return;
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    live.hidden = false;
    live.textContent = "";
    var status = el("p", "meta", live.dataset.asking);
    var answerBox = el("div", "answer streaming");
    var sourcesBox = el("section", "references");
    sourcesBox.hidden = true;
    live.append(el("h2", "question", question), status, answerBox, sourcesBox);

    var body = { question: question, stream: true };
    if (form.dataset.history) body.history = JSON.parse(form.dataset.history);
    if (form.querySelector("input[name=fresh]")) body.fresh = true;
    var final = null;
    try {
      var response = await fetch("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(body),
      });
      if (!response.ok || !response.body) {
        var detail = "";
        try {
          detail = (await response.json()).detail;
        } catch (err) {
          detail = "";
        }
        throw new Error(detail || "HTTP " + response.status);
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        var blocks = buffer.split("\n\n");
        buffer = blocks.pop();
        for (var i = 0; i < blocks.length; i++) {
          if (!blocks[i].trim()) continue;
          var message = parseEvent(blocks[i]);
          if (message.event === "sources") {
            renderSources(sourcesBox, message.data.sources, live.dataset.references);
          } else if (message.event === "token") {
            answerBox.appendChild(document.createTextNode(message.data.text));
          } else if (message.event === "done") {
            final = message.data;
          } else if (message.event === "error") {
            throw new Error(message.data.detail || message.data.error);
          }
        }
      }
      answerBox.classList.remove("streaming");
      status.textContent = live.dataset.notice;
      if (final) {
        input.value = "";
        await showFinal(form, live, final);
      }
    } catch (err) {
      answerBox.classList.remove("streaming");
      status.className = "meta stream-error";
      status.textContent = (live.dataset.streamError || "") + err.message;
    } finally {
      button.disabled = false;
    }
  }

  function enhance(root) {
    if (!window.fetch || !window.ReadableStream || !window.TextDecoder) return;
    root.querySelectorAll("form.ask-form").forEach(function (form) {
      var live = document.getElementById(form.dataset.target);
      if (!live || form.dataset.enhanced) return;
      form.dataset.enhanced = "1";
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        ask(form, live);
      });
      var input = form.querySelector("textarea[name=question]");
      input.addEventListener("keydown", function (event) {
        // Enter asks, Shift+Enter breaks the line; never while an IME is composing.
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          if (form.requestSubmit) form.requestSubmit();
          else form.dispatchEvent(new Event("submit", { cancelable: true }));
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      enhance(document);
    });
  } else {
    enhance(document);
  }
})();
