// chittyos-edge: reference bundle (a stub: staging only; production refuses it, see workers/README.md)
// Reference bundle of Project Awareness: enough for a fresh account to deploy end to end and pass
// its health checks (also under the api.chitty.cc/project-awareness/* route). The real application
// is a pinned build (`services.project-awareness.code`); it must export the same classes.

const json = (body, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

// Per-project awareness state.
export class ProjectAwarenessDurableObject {
  constructor(state, env) {
    this.state = state;
    this.env = env;
  }

  async fetch(request) {
    if (request.method === "PUT") {
      await this.state.storage.put("project", await request.json());
      return json({ ok: true });
    }
    return json((await this.state.storage.get("project")) ?? {});
  }
}

// Cross-platform session sync (Claude, ChatGPT, ...): last writer wins, with a version counter.
export class SessionSyncDurableObject {
  constructor(state, env) {
    this.state = state;
    this.env = env;
  }

  async fetch(request) {
    if (request.method === "POST") {
      const version = ((await this.state.storage.get("version")) ?? 0) + 1;
      await this.state.storage.put({ version, session: await request.json() });
      return json({ ok: true, version });
    }
    return json({ version: (await this.state.storage.get("version")) ?? 0 });
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health" || url.pathname.endsWith("/health")) {
      return json({ status: "healthy" });
    }
    return json({ error: "not found" }, 404);
  },
};
