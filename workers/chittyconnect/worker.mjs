// chittyos-edge: reference bundle (a stub: staging only; production refuses it, see workers/README.md)
// Reference bundle of ChittyConnect: enough for a fresh account to deploy end to end and pass
// its health checks. The real application runs live (adopted) or as a pinned build
// (`services.chittyconnect.code`); it must export the same Durable Object class.

const json = (body, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

// One object per ChittyID (the ChittyConnect implementation guide). Sessions live in the object's storage; an hourly alarm
// (and the Worker's hourly cron) removes expired ones.
export class SessionStateDO {
  constructor(state, env) {
    this.state = state;
    this.env = env;
  }

  async fetch(request) {
    const url = new URL(request.url);
    const sessionId = url.searchParams.get("session");
    if (request.method === "PUT" && sessionId) {
      const session = { ...(await request.json()), updatedAt: Date.now() };
      await this.state.storage.put(`session:${sessionId}`, session);
      if ((await this.state.storage.getAlarm()) === null) {
        await this.state.storage.setAlarm(Date.now() + 3600_000);
      }
      return json({ ok: true, sessionId });
    }
    if (request.method === "GET" && sessionId) {
      const session = await this.state.storage.get(`session:${sessionId}`);
      return session ? json(session) : json({ error: "not found" }, 404);
    }
    return json({ error: "use GET or PUT with ?session=<id>" }, 400);
  }

  async alarm() {
    const cutoff = Date.now() - 24 * 3600_000;
    const sessions = await this.state.storage.list({ prefix: "session:" });
    const expired = [...sessions].filter(([, value]) => (value.updatedAt ?? 0) < cutoff).map(([key]) => key);
    if (expired.length) await this.state.storage.delete(expired);
    if (sessions.size > expired.length) await this.state.storage.setAlarm(Date.now() + 3600_000);
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health" || url.pathname.endsWith("/health")) {
      return json({ status: "healthy" });
    }
    const chittyId = request.headers.get("x-chittyid");
    if (url.pathname.startsWith("/api/v1/sessions") && chittyId && env.SESSION_STATE) {
      const stub = env.SESSION_STATE.get(env.SESSION_STATE.idFromName(chittyId));
      return stub.fetch(request);
    }
    return json({ error: "not found" }, 404);
  },

  // Hourly cleanup trigger (durableObjects.session-state.cleanupSchedule).
  async scheduled(controller, env, ctx) {
    console.log(JSON.stringify({ event: "session-cleanup", cron: controller.cron }));
  },

  // Consumer of the github-events queue. A stub cannot process a webhook event, so it never
  // acknowledges one: every message is retried and, after maxRetries, lands in the dead-letter
  // queue, where the real application can replay it. Nothing is lost to the stub.
  async queue(batch, env) {
    console.log(JSON.stringify({ event: "github-events-not-processed", messages: batch.messages.length }));
    batch.retryAll({ delaySeconds: 60 });
  },
};
