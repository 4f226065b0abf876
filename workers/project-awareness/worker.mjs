// chittyos-edge: reference bundle (a stub: staging only; production refuses it, see workers/README.md)
// Reference bundle of Project Awareness: enough for a fresh account to deploy end to end, pass its
// health checks (also under the api.chitty.cc/project-awareness/* route) and answer the
// post-deployment tests (`chittyos-edge smoke`). The real application is a pinned build
// (`services.project-awareness.code`); it must export the same classes.

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

// The api.chitty.cc/project-awareness/* route reaches the Worker with its prefix.
const ROUTE_PREFIX = "/project-awareness";
const ENDPOINTS = ["/health", "/api/info", "/api/projects/suggestions", "/api/sessions/register",
  "/api/projects/sync", "/ws"];

const body = async (request) => {
  try {
    return await request.json();
  } catch {
    return null;
  }
};

// What the post-deployment tests of the optimization report call (`chittyos-edge smoke`).
const routes = {
  "GET /api/info": (request, env) =>
    json({ name: "project-awareness", version: "reference", environment: env.ENVIRONMENT, endpoints: ENDPOINTS }),

  "GET /api/projects/suggestions": async (request, env, url) => {
    const listed = await env.PROJECT_STORE.list({ limit: 10 });
    return json({
      platform: url.searchParams.get("platform"),
      workingDirectory: url.searchParams.get("working_directory"),
      suggestions: listed.keys.map((key) => key.name),
    });
  },

  "POST /api/sessions/register": async (request, env) => {
    const session = await body(request);
    if (typeof session?.platform !== "string" || typeof session?.session_id !== "string") {
      return json({ error: "send {platform, session_id}" }, 400);
    }
    const ttl = Math.max(60, Number(env.SESSION_TIMEOUT) || 3600);
    await env.SESSION_STORE.put(`session:${session.session_id}`, JSON.stringify(session), { expirationTtl: ttl });
    return json({ ok: true, sessionId: session.session_id });
  },

  "POST /api/projects/sync": async (request, env) => {
    const sync = await body(request);
    if (typeof sync?.source_platform !== "string" || typeof sync?.sync_type !== "string") {
      return json({ error: "send {source_platform, sync_type}" }, 400);
    }
    const stub = env.SESSION_SYNC_DO.get(env.SESSION_SYNC_DO.idFromName(sync.source_platform));
    return stub.fetch("https://sync/", { method: "POST", body: JSON.stringify(sync) });
  },

  // Echoes messages; a plain GET gets 426, which the health check of /ws expects.
  "GET /ws": (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return json({ error: "expected a WebSocket upgrade" }, 426);
    }
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener("message", (event) => server.send(event.data));
    server.addEventListener("close", (event) => server.close(event.code, event.reason));
    return new Response(null, { status: 101, webSocket: client });
  },
};

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health" || url.pathname.endsWith("/health")) {
      return json({ status: "healthy" });
    }
    const path = url.pathname.startsWith(`${ROUTE_PREFIX}/`) ? url.pathname.slice(ROUTE_PREFIX.length) : url.pathname;
    const route = routes[`${request.method} ${path}`];
    return route ? route(request, env, url) : json({ error: "not found" }, 404);
  },
};
