// The notifications panel: the unread ones, new ones as they arrive, marking read.
// A server without notifications leaves the panel saying so and the page working.

import { Q_NOTIFICATIONS, M_MARK_READ, S_NOTIFICATIONS } from "./queries.js";
import { $, h, when, words } from "./ui.js";

export class NotificationsPanel {
  constructor(api) {
    this.api = api;
    this.stops = [];
    this.unread = 0;
    this.notes = [];
  }

  stop() {
    for (const stop of this.stops) stop();
  }

  async start() {
    const state = $("notifications-state");
    let data;
    try {
      data = await this.api.query(Q_NOTIFICATIONS);
    } catch (e) {
      state.textContent = e.code === "GRAPHQL_VALIDATION_FAILED"
        ? "Notifications unavailable: this server does not offer them." : `Notifications unavailable: ${e.message}`;
      $("notification-list").replaceChildren();
      return;
    }
    this.unread = data.unreadNotificationCount;
    this.notes = data.notifications.nodes;
    $("mark-all-read").onclick = () => this.markRead({ upToSequence: Math.max(0, ...this.notes.map((n) => n.sequence)) });
    this.renderNotifications();
    const seqs = this.notes.map((n) => n.sequence);
    const vars = { after: seqs.length ? Math.max(...seqs) : null };
    this.stops.push(this.api.subscribe(S_NOTIFICATIONS, vars, (d) => {
      const n = d.notifications;
      vars.after = Math.max(vars.after ?? 0, n.sequence);
      if (this.notes.some((m) => m.id === n.id)) return;
      if (!n.readAt) {
        this.notes.unshift(n);
        this.unread += 1;
      }
      this.renderNotifications();
    }, (e) => { state.textContent = `Live notifications stopped: ${e.message}`; }));
  }

  renderNotifications() {
    const badge = $("unread");
    badge.hidden = !this.unread;
    badge.textContent = String(this.unread);
    $("mark-all-read").hidden = !this.notes.length;
    $("notifications-state").textContent = this.unread ? "" : "No unread notifications.";
    $("notification-list").replaceChildren(...this.notes.slice(0, 30).map((n) => h("li", { "data-id": n.id },
      h("div", { class: "note-head" },
        h("span", { class: "title" }, n.title),
        h("button", { class: "link small", title: "Mark read", onclick: () => this.markRead({ ids: [n.id] }) }, "mark read")),
      n.body ? h("div", { class: "body" }, n.body) : null,
      h("div", { class: "muted small" }, `${words(n.eventType.replace(".", " "))} · ${when(n.createdAt)}`))));
  }

  async markRead(input) {
    try {
      const { markNotificationsRead: done } = await this.api.query(M_MARK_READ, { input });
      if (done.errors.length) throw new Error(done.errors.map((e) => e.message).join("; "));
      const marked = new Set(done.marked.map((n) => n.id));
      const upTo = input.upToSequence ?? -1;
      this.notes = this.notes.filter((n) => !marked.has(n.id) && n.sequence > upTo
        && !(input.ids || []).includes(n.id));
      this.unread = done.unreadCount;
      this.renderNotifications();
    } catch (e) {
      $("notifications-state").textContent = `Could not mark read: ${e.message}`;
    }
  }
}
