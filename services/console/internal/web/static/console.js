// The claim page, live. Nothing here decides anything or guesses ahead of
// the services: on every event about the claim (and whenever the stream
// reconnects, having perhaps missed some) it asks the console to draw the
// status panel and the timeline again from what the owners say now. While
// an effect is still processing it asks again every second, because some
// effects (a notification made, a read model updated) publish no event of
// their own to announce them.
"use strict";

(function () {
  const root = document.getElementById("claim");
  if (!root) return;
  const id = root.dataset.claim;
  const written = root.dataset.written || "0";
  const liveState = document.getElementById("live-state");
  const seen = new Map(); // event id -> envelope, as it came off the bus

  let pending = null;
  function refreshSoon(delay) {
    if (pending) return;
    pending = setTimeout(refresh, delay);
  }

  async function refresh() {
    pending = null;
    try {
      for (const part of ["status", "timeline"]) {
        const r = await fetch(`/claims/${encodeURIComponent(id)}/${part}?written=${written}`, {
          headers: { "X-Console-Fragment": "1" },
          credentials: "same-origin",
        });
        if (!r.ok) continue;
        document.getElementById(part).innerHTML = await r.text();
      }
      markOnTheBus();
    } finally {
      const panel = document.querySelector("#status .panel");
      if (panel && panel.dataset.processing === "true") refreshSoon(1000);
    }
  }

  // Events seen on the bus that the audit log has not recorded yet: shown,
  // and marked as such, until the next refresh finds them in the log.
  function markOnTheBus() {
    const list = document.getElementById("events");
    if (!list) return;
    for (const [eventId, env] of seen) {
      if (list.querySelector(`[data-event-id="${CSS.escape(eventId)}"]`)) {
        seen.delete(eventId);
        continue;
      }
      const li = document.createElement("li");
      li.className = "on-the-bus";
      li.dataset.eventId = eventId;
      li.dataset.type = env.type;
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = `${new Date(env.time).toLocaleTimeString()} ${env.type} ${env.source} — on the bus, not in the audit log yet`;
      const pre = document.createElement("pre");
      pre.textContent = JSON.stringify(env, null, 2);
      details.append(summary, pre);
      li.append(details);
      list.append(li);
    }
  }

  const stream = new EventSource(`/events?expense_id=${encodeURIComponent(id)}`);
  stream.addEventListener("open", () => {
    liveState.textContent = "live";
    liveState.className = "dot on";
    refreshSoon(0); // whatever happened while we were not listening
  });
  stream.addEventListener("error", () => {
    liveState.textContent = "reconnecting…";
    liveState.className = "dot off";
  });
  // SSE names each message by its event type; listen to every type this
  // build knows (the page lists them).
  for (const type of root.dataset.types.split(" ")) {
    stream.addEventListener(type, (msg) => {
      try {
        const env = JSON.parse(msg.data);
        seen.set(env.id, env);
        markOnTheBus();
      } catch (e) {
        /* not ours to interpret; the refresh shows what the owners say */
      }
      refreshSoon(150);
    });
  }
  refreshSoon(1000);
})();
