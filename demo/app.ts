/**
 * The duet demo page. It uses the public SDK only (bundled as ./duet-client.js) and the dev-mode
 * token endpoint: pick a name, chat, and switch transports by hand to watch each one work. The
 * open chat is drawn from the SDK's view (client.view(peer)): edits, unsends, reactions and the
 * delivered/read ticks come from the server's state and events, never from this tab's storage.
 */
import {
  type ConversationSummary,
  connect,
  createClientMsgId,
  type DuetClient,
  type LinkRef,
  type Message,
  type PresenceInfo,
  type ReportReason,
  type Settings,
  type Status,
  TRANSPORTS,
  type TransportName,
  type ViewMessage,
} from "../src/client/index.js";

const USER_ID = /^[A-Za-z0-9_.@-]{1,64}$/;
/** The sender of the service's own messages: its conversation has nobody to answer (SPEC 7). */
const SYSTEM = "system";
const URL_IN_TEXT = /https?:\/\/[^\s<>"']+/g;
const TRANSPORT_LABEL: Record<TransportName, string> = {
  ws: "WebSocket",
  sse: "SSE",
  stream: "HTTP streaming",
  longpoll: "long-polling",
  poll: "polling",
};

/** The reactions the demo offers (the server takes any single emoji). */
const REACTIONS = ["❤️", "👍", "😂", "😮", "😢", "🙏"];
/** The server's default edit window (DUET_EDIT_WINDOW_S): the menu offers Edit within it. */
const EDIT_WINDOW_MS = 900_000;
const SETTING_LABELS: Record<keyof Settings, string> = {
  readReceipts: "Read receipts",
  deliveryReceipts: "Delivery receipts",
  typing: "Show when I am typing",
  presence: "Show when I am online",
  notifications: "Notifications (server side)",
};

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string } = {},
  ...children: (Node | null)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  for (const child of children) if (child) node.append(child);
  return node;
}

function safeUrl(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.toString() : null;
  } catch {
    return null;
  }
}

function timeOf(ts: number): string {
  const d = new Date(ts);
  const today = new Date();
  return d.toDateString() === today.toDateString()
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString([], { month: "short", day: "numeric" });
}

function colorOf(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return `hsl(${h} 55% 50%)`;
}

function avatar(node: HTMLElement, name: string): HTMLElement {
  node.textContent = name.slice(0, 1);
  node.style.background = colorOf(name);
  return node;
}

/** A message of mine not stored yet (queued or being sent). */
interface Outgoing {
  clientMsgId: string;
  to: string;
  ts: number;
  text: string | null;
  image: { url: string } | null;
  links: LinkRef[];
  failed?: string;
}

interface Conversation {
  peer: string;
  unread: number;
  last: Message | null;
  updatedAt: number;
  /** A match with no message yet (SPEC 11): listed as "new match, say hi". */
  matched?: boolean;
}

type Tick = "pending" | "failed" | "sent" | "delivered" | "read";

class DemoApp {
  private readonly me: string;
  private readonly client: DuetClient;
  private readonly conversations = new Map<string, Conversation>();
  private readonly outgoing = new Map<string, Outgoing>();
  /** The peer's messages counted in an unread badge already (a replayed event is not counted twice). */
  private readonly counted = new Set<string>();
  /** The message whose text the composer is editing (null: the composer sends). */
  private editing: string | null = null;
  /** The message whose menu or reaction picker is open. */
  private menuFor: string | null = null;
  private readonly presence = new Map<string, PresenceInfo>();
  /** Per peer: the newest of their messages this page has marked read. */
  private readonly markedUpTo = new Map<string, string>();
  private readonly typingUntil = new Map<string, number>();
  private readonly rendered = new Map<string, HTMLLIElement>();
  private open: string | null = null;
  private loading: Promise<void> | null = null;
  private presenceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(me: string) {
    this.me = me;
    const saved = this.loadSaved();
    this.client = connect({
      url: location.origin,
      getToken: () => devToken(me),
      transports: saved.transports,
      ...(saved.cursor ? { cursor: saved.cursor } : {}),
    });
    const [only, ...others] = saved.transports;
    ($("transport") as HTMLSelectElement).value = only !== undefined && others.length === 0 ? only : "auto";
    this.wire();
  }

  // ---- persistence (per tab): the cursor and the transport choice; receipts come from the server ----

  private storageKey(): string {
    return `duet-demo:${this.me}`;
  }

  private loadSaved(): {
    cursor: { seq: number; epoch: string } | null;
    transports: TransportName[];
  } {
    try {
      const raw = JSON.parse(sessionStorage.getItem(this.storageKey()) ?? "{}") as {
        cursor?: { seq: number; epoch: string };
        transports?: TransportName[];
      };
      const transports = (raw.transports ?? []).filter((t) => (TRANSPORTS as readonly string[]).includes(t));
      return {
        cursor: raw.cursor ?? null,
        transports: transports.length > 0 ? transports : [...TRANSPORTS],
      };
    } catch {
      return { cursor: null, transports: [...TRANSPORTS] };
    }
  }

  private save(): void {
    sessionStorage.setItem(
      this.storageKey(),
      JSON.stringify({
        cursor: this.client.cursor,
        transports: this.client.transports,
      }),
    );
  }

  // ---- SDK events ----------------------------------------------------------------------

  private wire(): void {
    const c = this.client;
    c.on("status", (s) => {
      this.showStatus(s);
      this.renderChatHead();
    });
    c.on("reset", () => void this.reload());
    let first = true;
    c.on("status", (s) => {
      if (s.state === "online" && first) {
        first = false;
        void this.reload(); // a resumed cursor has no "initial" reset, but the page is empty
      }
      if (s.state === "online") this.refreshPresenceSoon(0);
    });
    c.on("message", (e) => {
      this.addMessage(e.message);
      this.save();
    });
    c.on("read", (e) => {
      if (e.reader === this.me) {
        const conv = this.conversations.get(e.peer);
        if (conv) conv.unread = 0; // read on another device
      }
      this.save();
      this.renderList();
    });
    // SPEC 13: the open chat is the SDK's view; it says what changed (ticks included).
    c.on("change", (e) => {
      if (this.open === e.peer) this.renderMessages();
    });
    c.on("edit", (e) => this.updateLast(e.message));
    c.on("delete", (e) => {
      const conv = this.conversations.get(e.peer);
      if (conv?.last?.id === e.id)
        this.updateLast({ ...conv.last, kind: "deleted", text: null, image: null, links: [] });
      if (this.counted.has(e.id) && conv && conv.unread > 0 && this.open !== e.peer) conv.unread -= 1;
      this.save();
    });
    c.on("reaction", () => this.save());
    c.on("delivered", () => this.save());
    // SPEC 11: a match shows up at once; an unmatch that erased the conversation takes it off
    // the screen (the server has nothing left of it either).
    c.on("pair", (e) => {
      if (e.state === "matched") {
        const conv = this.conversation(e.peer);
        conv.matched = true;
        conv.updatedAt = Math.max(conv.updatedAt, Date.now());
      } else if (e.historyDeleted) {
        this.forget(e.peer);
      } else {
        const conv = this.conversations.get(e.peer);
        if (conv) conv.matched = false;
      }
      this.save();
      this.renderList();
    });
    c.on("typing", (e) => {
      this.typingUntil.set(e.from, Date.now() + 4000);
      this.renderList();
      this.renderChatHead();
      setTimeout(() => {
        this.renderList();
        this.renderChatHead();
      }, 4100);
      if (this.open === e.from) this.refreshPresenceSoon(0);
    });

    $("transport").addEventListener("change", (ev) => {
      const value = (ev.target as HTMLSelectElement).value;
      c.setTransports(value === "auto" ? [...TRANSPORTS] : [value as TransportName]);
      this.save();
    });
    $("retry").addEventListener("click", () => c.reconnectNow());
    $("new-chat").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = $<HTMLInputElement>("new-peer");
      const peer = input.value.trim();
      // Said on the page, not only in the browser's validation bubble (which some never show).
      const problem =
        peer === this.me
          ? `You are ${this.me}: a chat needs someone else. Open this page in another window with another name.`
          : !USER_ID.test(peer)
            ? "A name is 1-64 letters, digits or _.@- characters."
            : "";
      $("new-chat-error").textContent = problem;
      if (problem !== "") {
        input.focus();
        return;
      }
      input.value = "";
      this.openChat(peer);
    });
    $("new-peer").addEventListener("input", () => {
      $("new-chat-error").textContent = "";
    });
    $("back").addEventListener("click", () => this.openChat(null));
    // Reporting (SPEC 12): the server keeps copies of the last messages for the app's moderators;
    // the reported person is never told.
    $("report").addEventListener("click", () => {
      $("report-form").hidden = !$("report-form").hidden;
      $("report-status").hidden = true;
    });
    $("report-cancel").addEventListener("click", () => {
      $("report-form").hidden = true;
    });
    $("report-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const peer = this.open;
      if (!peer) return;
      const reason = $<HTMLSelectElement>("report-reason").value as ReportReason;
      const note = $<HTMLInputElement>("report-note").value.trim();
      const status = $("report-status");
      c.report({ user: peer, reason, ...(note ? { note } : {}) }).then(
        () => {
          $("report-form").hidden = true;
          $<HTMLInputElement>("report-note").value = "";
          status.textContent = `Reported ${peer}. Thank you: the app's team will look at it.`;
          status.hidden = false;
        },
        (err: Error) => {
          status.textContent = `The report was not sent: ${err.message}`;
          status.hidden = false;
        },
      );
    });
    $("toggle-image").addEventListener("click", () => {
      const row = $("image-row");
      row.hidden = !row.hidden;
      $("toggle-image").setAttribute("aria-pressed", String(!row.hidden));
      if (!row.hidden) $("image-url").focus();
    });
    $("text").addEventListener("input", () => {
      if (this.open && $<HTMLInputElement>("text").value !== "") void c.typing(this.open);
    });
    $("composer").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (this.editing !== null) this.saveEdit();
      else this.sendFromComposer();
    });
    $("edit-cancel").addEventListener("click", () => this.stopEditing());
    // A click anywhere else closes a message's menu.
    document.addEventListener("click", (ev) => {
      if (this.menuFor !== null && !(ev.target as Element).closest?.(".msg-menu, .menu-button, .bubble")) {
        this.menuFor = null;
        this.renderMessages();
      }
    });
    this.wireSettings();
    document.addEventListener("visibilitychange", () => this.markOpenRead());
    setInterval(() => this.refreshPresenceSoon(0), 10_000);
  }

  private showStatus(s: Status): void {
    const status = $("status");
    status.dataset.state = s.state;
    status.dataset.transport = s.transport ?? "";
    const via = s.transport ? TRANSPORT_LABEL[s.transport] : "";
    const banner = $("banner");
    if (s.state === "online") {
      status.textContent = `online · ${via}`;
      banner.hidden = true;
    } else if (s.state === "connecting") {
      status.textContent = `connecting… ${via}`;
      banner.hidden = true;
    } else if (s.state === "reconnecting") {
      status.textContent = `reconnecting… ${via}`;
      const wait = s.retryInMs === undefined ? "" : ` Next try in ${Math.ceil(s.retryInMs / 1000)} s.`;
      $("banner-text").textContent = `Connection lost: reconnecting…${wait} Messages you send are queued.`;
      banner.hidden = false;
    } else {
      status.textContent = "offline";
      $("banner-text").textContent = `Offline: ${s.error?.message ?? "closed"}`;
      banner.hidden = false;
    }
  }

  // ---- state ----------------------------------------------------------------------------

  /** Loads conversations (and the open chat's history) over HTTP; concurrent calls share one load. */
  private reload(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const list = await this.client.conversations({ limit: 100 });
        for (const s of list) this.mergeSummary(s);
        if (this.open) await this.loadHistory(this.open);
      } catch {
        // offline: the next reset/online reloads
      } finally {
        this.loading = null;
        this.renderList();
      }
    })();
    return this.loading;
  }

  /** Drops everything this page holds about the conversation with `peer`. */
  private forget(peer: string): void {
    this.conversations.delete(peer);
    this.client.view(peer).clear();
    this.markedUpTo.delete(peer);
    for (const [key, out] of this.outgoing) if (out.to === peer) this.outgoing.delete(key);
    if (this.open === peer) this.openChat(null);
  }

  private mergeSummary(s: ConversationSummary): void {
    const conv = this.conversation(s.peer);
    // Listed with no message: a new match (SPEC 11).
    if (s.lastMessage === null) conv.matched = true;
    conv.unread = s.unread;
    if (s.lastMessage && (!conv.last || s.lastMessage.id >= conv.last.id)) conv.last = s.lastMessage;
    conv.updatedAt = Math.max(conv.updatedAt, s.updatedAt);
  }

  private conversation(peer: string): Conversation {
    let conv = this.conversations.get(peer);
    if (!conv) {
      conv = { peer, unread: 0, last: null, updatedAt: 0 };
      this.conversations.set(peer, conv);
    }
    return conv;
  }

  /** The open chat's view, seeded from the server (history and the conversation's receipt markers). */
  private async loadHistory(peer: string): Promise<void> {
    await this.client.view(peer).load({ limit: 100 });
    if (this.open === peer) {
      this.renderMessages();
      this.markOpenRead();
    }
  }

  /** An edit or unsend of the conversation's last message changes its preview. */
  private updateLast(m: Message): void {
    const peer = m.from === this.me ? m.to : m.from;
    const conv = this.conversations.get(peer);
    if (conv?.last?.id !== m.id) return;
    conv.last = m;
    this.save();
    this.renderList();
  }

  private addMessage(m: Message): void {
    const peer = m.from === this.me ? m.to : m.from;
    if (m.clientMsgId && m.from === this.me) this.outgoing.delete(m.clientMsgId);
    const conv = this.conversation(peer);
    if (!conv.last || m.id > conv.last.id) conv.last = m;
    conv.updatedAt = Math.max(conv.updatedAt, m.ts);
    if (m.from === peer) {
      this.typingUntil.delete(peer);
      const fresh = !this.counted.has(m.id);
      this.counted.add(m.id);
      const viewing = this.open === peer && document.visibilityState === "visible";
      if (fresh && !viewing && m.kind !== "deleted") conv.unread += 1;
    }
    this.renderList();
    if (this.open === peer) {
      this.renderMessages();
      this.renderChatHead();
      this.markOpenRead();
    }
  }

  /** Marks the open chat read up to the peer's newest message, once per new message. */
  private markOpenRead(): void {
    const peer = this.open;
    if (!peer || document.visibilityState !== "visible") return;
    const newest = this.client
      .view(peer)
      .messages.filter((m) => !m.mine)
      .at(-1);
    const conv = this.conversation(peer);
    if (!newest || newest.id <= (this.markedUpTo.get(peer) ?? "")) return;
    this.markedUpTo.set(peer, newest.id);
    conv.unread = 0;
    this.renderList();
    this.client.markRead(peer, newest.id).catch(() => {
      this.markedUpTo.delete(peer); // try again on the next message or visit
    });
  }

  /** The open chat's "online" / "last seen" line. */
  private refreshPresenceSoon(delayMs: number): void {
    const peer = this.open;
    if (!peer) return;
    clearTimeout(this.presenceTimer);
    this.presenceTimer = setTimeout(async () => {
      try {
        const info = (await this.client.presence([peer]))[peer];
        if (!info) return;
        this.presence.set(peer, info);
      } catch {
        return;
      }
      if (this.open === peer) this.renderChatHead();
    }, delayMs);
  }

  // ---- sending --------------------------------------------------------------------------

  private sendFromComposer(): void {
    const peer = this.open;
    if (!peer || peer === SYSTEM) return;
    const textInput = $<HTMLInputElement>("text");
    const imageInput = $<HTMLInputElement>("image-url");
    const text = textInput.value.trim();
    const imageUrl = $("image-row").hidden ? "" : imageInput.value.trim();
    if (text === "" && imageUrl === "") return;
    if (imageUrl !== "" && safeUrl(imageUrl) === null) {
      imageInput.setCustomValidity("An http(s) URL, please.");
      imageInput.reportValidity();
      return;
    }
    imageInput.setCustomValidity("");
    const links = [...new Set(text.match(URL_IN_TEXT) ?? [])]
      .filter((u) => safeUrl(u) !== null && u.length <= 2048)
      .slice(0, 4)
      .map((url) => ({ url }));
    const out: Outgoing = {
      clientMsgId: createClientMsgId(),
      to: peer,
      ts: Date.now(),
      text: text === "" ? null : text,
      image: imageUrl === "" ? null : { url: imageUrl },
      links,
    };
    this.outgoing.set(out.clientMsgId, out);
    textInput.value = "";
    imageInput.value = "";
    $("image-row").hidden = true;
    $("toggle-image").setAttribute("aria-pressed", "false");
    this.renderMessages(true);
    this.client
      .send({
        to: peer,
        clientMsgId: out.clientMsgId,
        ...(out.text !== null ? { text: out.text } : {}),
        ...(out.image !== null ? { image: out.image } : {}),
        ...(links.length > 0 ? { links } : {}),
      })
      .then(
        (m) => {
          this.addMessage(m);
          this.refreshPresenceSoon(300);
        },
        (err: Error) => {
          out.failed = err.message;
          if (this.open === peer) this.renderMessages();
        },
      );
  }

  // ---- rendering ------------------------------------------------------------------------

  openChat(peer: string | null): void {
    this.open = peer;
    $("app").classList.toggle("chat-open", peer !== null);
    $("chat-empty").hidden = peer !== null;
    $("chat-main").hidden = peer === null;
    // The service's own conversation is read-only: no composer, a line saying why.
    const readOnly = peer === SYSTEM;
    $("composer").hidden = readOnly;
    $("no-reply").hidden = !readOnly;
    $("report").hidden = readOnly;
    $("report-form").hidden = true;
    $("report-status").hidden = true;
    this.rendered.clear();
    $("messages").replaceChildren();
    if (peer) {
      this.conversation(peer);
      this.renderChatHead();
      this.renderMessages(true);
      if (!readOnly) $("text").focus();
      void this.loadHistory(peer).catch(() => {});
      this.refreshPresenceSoon(0);
    }
    this.renderList();
  }

  private renderList(): void {
    const list = $("conversations");
    const convs = [...this.conversations.values()]
      .filter((c) => c.last !== null || c.peer === this.open || c.matched === true)
      .sort((a, b) => b.updatedAt - a.updatedAt || a.peer.localeCompare(b.peer));
    $("no-conversations").hidden = convs.length > 0;
    list.replaceChildren(
      ...convs.map((c) => {
        const typing = (this.typingUntil.get(c.peer) ?? 0) > Date.now();
        const li = el(
          "li",
          { className: "conv" },
          avatar(el("span", { className: "avatar" }), c.peer),
          el(
            "div",
            { className: "body" },
            el(
              "div",
              { className: "top" },
              el("span", { className: "name", text: c.peer }),
              el("span", { className: "time", text: c.last ? timeOf(c.last.ts) : "" }),
            ),
            el(
              "div",
              { className: "bottom" },
              el("span", {
                className: typing ? "preview typing" : "preview",
                text: typing ? "typing…" : this.preview(c),
              }),
              c.unread > 0 ? el("span", { className: "badge", text: String(c.unread) }) : null,
            ),
          ),
        );
        li.dataset.peer = c.peer;
        li.setAttribute("aria-current", String(c.peer === this.open));
        li.addEventListener("click", () => this.openChat(c.peer));
        return li;
      }),
    );
  }

  private preview(c: Conversation): string {
    const m = c.last;
    if (!m) return c.matched ? "New match: say hi 👋" : "";
    const who = m.from === this.me ? "You: " : "";
    // A tombstone has no text, image or links (SPEC 13).
    if (m.kind === "deleted") return m.from === this.me ? "You unsent a message" : "Message unsent";
    if (m.kind === "image") return `${who}📷 ${m.text ?? "Photo"}`;
    if (m.text) return who + m.text;
    return who + (m.links?.[0]?.url ?? "");
  }

  private renderChatHead(): void {
    const peer = this.open;
    if (!peer) return;
    avatar($("chat-avatar"), peer);
    $("chat-peer").textContent = peer;
    const sub = $("chat-sub");
    const typing = (this.typingUntil.get(peer) ?? 0) > Date.now();
    // While this page is offline, what we knew of the peer's presence may be stale: say nothing.
    const p = this.client.status.state === "online" ? this.presence.get(peer) : undefined;
    sub.className = typing ? "sub typing" : "sub";
    sub.textContent = typing
      ? "typing…"
      : p?.online
        ? "online"
        : p?.lastSeen
          ? `last seen ${timeOf(p.lastSeen)}`
          : p
            ? "offline"
            : "";
  }

  /** Keyed by clientMsgId for my messages (so a queued bubble becomes the stored one in place). */
  private renderMessages(scrollToEnd = false): void {
    const peer = this.open;
    if (!peer) return;
    const box = $("messages");
    const nearEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    const stored = this.client.view(peer).messages;
    const storedKeys = new Set(stored.map((m) => m.clientMsgId).filter((k) => k !== null));
    const pending = [...this.outgoing.values()].filter(
      (o) => o.to === peer && !storedKeys.has(o.clientMsgId),
    );
    const items: { key: string; state: Tick | "theirs"; m: ViewMessage | Outgoing; mine: boolean }[] = [
      ...stored.map((m) => ({
        key: m.mine && m.clientMsgId ? `c:${m.clientMsgId}` : `i:${m.id}`,
        state: m.mine ? (m.tick ?? "sent") : ("theirs" as const),
        m,
        mine: m.mine,
      })),
      ...pending.map((o) => ({
        key: `c:${o.clientMsgId}`,
        state: (o.failed ? "failed" : "pending") as Tick,
        m: o,
        mine: true,
      })),
    ];
    const keep = new Set(items.map((i) => i.key));
    for (const [key, node] of this.rendered) {
      if (!keep.has(key)) {
        node.remove();
        this.rendered.delete(key);
      }
    }
    let prev: HTMLLIElement | null = null;
    for (const item of items) {
      let node = this.rendered.get(item.key);
      // Drawn again when what it shows changed: stored, edited, unsent, reacted to, its menu.
      const signature = this.signatureOf(item.m);
      if (!node || node.dataset.sig !== signature) {
        const fresh = this.messageNode(item.m, item.mine);
        fresh.dataset.sig = signature;
        node?.replaceWith(fresh);
        node = fresh;
        this.rendered.set(item.key, node);
      }
      node.dataset.state = item.state;
      const tick = node.querySelector(".tick");
      if (tick) {
        tick.textContent = TICK_TEXT[item.state as Tick] ?? "";
        tick.setAttribute("title", item.state);
      }
      // A refused send says why, in the server's words (blocked, too long, ...).
      const failed = item.state === "failed" ? (item.m as Outgoing).failed : undefined;
      if (failed !== undefined && !node.querySelector(".reason")) {
        node.querySelector(".bubble")?.append(el("div", { className: "reason", text: failed }));
      }
      const expectedPrev: Element | null = prev ? prev.nextElementSibling : box.firstElementChild;
      if (expectedPrev !== node) {
        if (prev) prev.after(node);
        else box.prepend(node);
      }
      prev = node;
    }
    if (scrollToEnd || nearEnd) box.scrollTop = box.scrollHeight;
  }

  private signatureOf(m: ViewMessage | Outgoing): string {
    if (!("id" in m)) return "pending";
    const menu = this.menuFor === m.id ? "menu" : "";
    return `${m.kind}|${m.editedAt ?? ""}|${m.text ?? ""}|${JSON.stringify(m.reactions ?? {})}|${menu}|${this.editing === m.id}`;
  }

  private messageNode(m: ViewMessage | Outgoing, mine: boolean): HTMLLIElement {
    const stored = "id" in m;
    const li = el("li", { className: mine ? "msg mine" : "msg" });
    li.dataset.stored = String(stored);
    if (stored) li.dataset.id = m.id;
    if (stored && m.kind === "deleted") {
      // Unsent for everyone: the content is gone from the server; the place in the chat stays.
      li.classList.add("deleted");
      const bubble = el(
        "div",
        { className: "bubble" },
        el("div", { className: "text unsent", text: mine ? "You unsent a message" : "Message unsent" }),
        el("div", { className: "meta" }, el("span", { text: timeOf(m.ts) })),
      );
      li.append(bubble);
      return li;
    }
    const bubble = el("div", { className: "bubble" });
    const image = m.image ? safeUrl(m.image.url) : null;
    if (image) {
      const img = el("img");
      img.src = image;
      img.alt = m.text ?? "image";
      img.loading = "lazy";
      img.addEventListener("load", () => {
        const box = $("messages");
        if (box.scrollHeight - box.scrollTop - box.clientHeight < img.height + 80)
          box.scrollTop = box.scrollHeight;
      });
      bubble.append(img);
    }
    if (m.text) bubble.append(el("div", { className: "text", text: m.text }));
    // The server's contact-info screen replaced phone numbers, e-mails or handles (SPEC 12).
    if (stored && m.screened && m.text?.includes("[hidden]"))
      bubble.append(el("div", { className: "screened", text: "contact details hidden by the app" }));
    for (const link of m.links) {
      const href = safeUrl(link.url);
      if (!href) continue;
      const a = el(
        "a",
        { className: "link" },
        el("strong", { text: link.title ?? new URL(href).hostname }),
        el("span", { text: href }),
      );
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      bubble.append(a);
    }
    const meta = el("div", { className: "meta" }, el("span", { text: timeOf(m.ts) }));
    if (stored && m.editedAt !== undefined) meta.prepend(el("span", { className: "edited", text: "edited" }));
    if (mine) meta.append(el("span", { className: "tick" }));
    bubble.append(meta);
    li.append(bubble);
    if (!stored) return li;
    if (m.kind === "system") {
      li.classList.add("system");
      return li;
    }
    if (this.editing === m.id) li.classList.add("editing");
    // Tap (or click) a message to react; one's own also gets a menu: edit, unsend.
    bubble.addEventListener("click", (ev) => {
      if ((ev.target as Element).closest("a")) return;
      this.menuFor = this.menuFor === m.id ? null : m.id;
      this.renderMessages();
    });
    const reactions = m.reactions ?? {};
    if (Object.keys(reactions).length > 0) {
      const row = el("div", { className: "reactions" });
      for (const [emoji, users] of Object.entries(reactions)) {
        const chip = el("button", {
          className: users.includes(this.me) ? "reaction chip mine" : "reaction chip",
          text: users.length > 1 ? `${emoji} ${users.length}` : emoji,
        });
        chip.type = "button";
        chip.dataset.emoji = emoji;
        chip.title = users.join(", ");
        chip.addEventListener("click", () => this.toggleReaction(m, emoji));
        row.append(chip);
      }
      li.append(row);
    }
    if (this.menuFor === m.id) li.append(this.menuNode(m));
    return li;
  }

  /** The open message's menu: the reactions, and for my own messages Edit (in the window) and Unsend. */
  private menuNode(m: ViewMessage): HTMLElement {
    const menu = el("div", { className: "msg-menu" });
    menu.setAttribute("role", "menu");
    const picker = el("div", { className: "picker" });
    for (const emoji of REACTIONS) {
      const b = el("button", { className: "pick", text: emoji });
      b.type = "button";
      b.dataset.emoji = emoji;
      b.setAttribute("aria-label", `React ${emoji}`);
      b.addEventListener("click", () => this.toggleReaction(m, emoji));
      picker.append(b);
    }
    menu.append(picker);
    if (m.mine) {
      if (m.kind === "text" || m.kind === "image") {
        if (Date.now() - m.ts < EDIT_WINDOW_MS) {
          const edit = el("button", { className: "menu-edit", text: "Edit" });
          edit.type = "button";
          edit.addEventListener("click", () => this.startEditing(m));
          menu.append(edit);
        }
      }
      const unsend = el("button", { className: "menu-unsend", text: "Unsend" });
      unsend.type = "button";
      unsend.addEventListener("click", () => {
        this.menuFor = null;
        this.client.unsend(m.id).then(
          () => this.renderMessages(),
          (err: Error) => this.actionFailed(err),
        );
      });
      menu.append(unsend);
    }
    return menu;
  }

  private toggleReaction(m: ViewMessage, emoji: string): void {
    this.menuFor = null;
    const mineAlready = (m.reactions?.[emoji] ?? []).includes(this.me);
    (mineAlready ? this.client.unreact(m.id, emoji) : this.client.react(m.id, emoji)).catch((err: Error) =>
      this.actionFailed(err),
    );
    this.renderMessages();
  }

  private startEditing(m: ViewMessage): void {
    this.menuFor = null;
    this.editing = m.id;
    $("edit-row").hidden = false;
    const input = $<HTMLInputElement>("text");
    input.value = m.text ?? "";
    input.focus();
    this.renderMessages();
  }

  private stopEditing(): void {
    this.editing = null;
    $("edit-row").hidden = true;
    $<HTMLInputElement>("text").value = "";
    this.renderMessages();
  }

  private saveEdit(): void {
    const id = this.editing;
    const text = $<HTMLInputElement>("text").value.trim();
    if (id === null || text === "") return;
    this.stopEditing();
    this.client.edit(id, text).catch((err: Error) => this.actionFailed(err));
  }

  /** An edit, unsend or reaction the server refused (too late, ...): said under the chat. */
  private actionFailed(err: Error): void {
    const status = $("report-status");
    status.textContent = err.message;
    status.hidden = false;
  }

  // ---- settings and notifications ---------------------------------------------------------

  private wireSettings(): void {
    $("settings-button").addEventListener("click", () => {
      const panel = $("settings");
      panel.hidden = !panel.hidden;
      if (!panel.hidden) void this.loadSettings();
    });
    $("settings-close").addEventListener("click", () => {
      $("settings").hidden = true;
    });
    const list = $("settings-list");
    for (const key of Object.keys(SETTING_LABELS) as (keyof Settings)[]) {
      const input = el("input");
      input.type = "checkbox";
      input.id = `set-${key}`;
      input.disabled = true;
      input.addEventListener("change", () => {
        input.disabled = true;
        this.client.updateSettings({ [key]: input.checked }).then(
          (s) => this.showSettings(s),
          (err: Error) => {
            $("settings-error").textContent = err.message;
            void this.loadSettings();
          },
        );
      });
      const label = el("label", { className: "switch" }, input, el("span", { text: SETTING_LABELS[key] }));
      list.append(el("li", {}, label));
    }
    const push = $<HTMLInputElement>("push");
    push.addEventListener("change", () => {
      const status = $("push-status");
      status.textContent = push.checked ? "Turning on…" : "Turning off…";
      push.disabled = true;
      // The page's service worker (sw.js) shows the notification when a push arrives.
      const done = push.checked
        ? this.client
            .enablePush({ serviceWorker: "sw.js" })
            .then(() => "On: you get a notification while this page is closed.")
        : this.client.disablePush().then(() => "Off.");
      done
        .then(
          (text) => {
            status.textContent = text;
            status.dataset.state = push.checked ? "on" : "off";
          },
          (err: Error) => {
            push.checked = !push.checked;
            status.textContent = err.message;
            status.dataset.state = "error";
          },
        )
        .finally(() => {
          push.disabled = false;
        });
    });
  }

  private async loadSettings(): Promise<void> {
    try {
      this.showSettings(await this.client.settings());
      $("settings-error").textContent = "";
    } catch (err) {
      $("settings-error").textContent = (err as Error).message;
    }
  }

  private showSettings(s: Settings): void {
    for (const key of Object.keys(SETTING_LABELS) as (keyof Settings)[]) {
      const input = $<HTMLInputElement>(`set-${key}`);
      input.checked = s[key];
      input.disabled = false;
    }
    $("settings").dataset.loaded = "true";
  }
}

const TICK_TEXT: Record<Tick, string> = {
  pending: "", // a spinner, drawn by the stylesheet
  failed: "⚠ not sent",
  sent: "✓",
  delivered: "✓✓",
  read: "✓✓",
};

async function devToken(user: string): Promise<string> {
  const res = await fetch("/v1/dev/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user }),
  });
  const body = (await res.json().catch(() => ({}))) as { token?: string; error?: { message?: string } };
  if (!res.ok || !body.token) throw new Error(body.error?.message ?? `dev token: HTTP ${res.status}`);
  return body.token;
}

async function start(user: string): Promise<void> {
  await devToken(user); // fails fast (not in dev mode, bad name) before the UI switches over
  sessionStorage.setItem("duet-demo:user", user);
  $("login").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = user;
  document.title = `${user} · duet demo`;
  const app = new DemoApp(user);
  app.openChat(null);
}

function main(): void {
  const params = new URLSearchParams(location.search);
  const preset = params.get("as") ?? sessionStorage.getItem("duet-demo:user");
  const form = $<HTMLFormElement>("login-form");
  const error = $("login-error");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = $<HTMLInputElement>("login-name").value.trim();
    if (!USER_ID.test(name)) {
      error.textContent = "Use 1-64 letters, digits or _.@-";
      return;
    }
    error.textContent = "";
    start(name).catch((err: Error) => {
      error.textContent = err.message;
    });
  });
  if (preset && USER_ID.test(preset)) {
    start(preset).catch((err: Error) => {
      $("login").hidden = false;
      error.textContent = err.message;
    });
  } else {
    $("login").hidden = false;
  }
}

main();
