// Talking to the server: the HTTP task API, the page's lists, and the live WebSocket.

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;  // 401: the server needs a token (see setToken)
  }
}

// A server started with --token-file wants `authorization: Bearer <token>` on every request;
// the page keeps the token for the browser tab's session.
const TOKEN_KEY = "striate-token";

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function authorization() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function getJson(url) {
  const response = await fetch(url, { headers: authorization() });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(body.error || `${url} answered HTTP ${response.status}`, response.status);
  }
  return body;
}

function serverMs(response) {
  const match = /dur=([\d.]+)/.exec(response.headers.get("server-timing") || "");
  return match ? Number(match[1]) : null;
}

// POST the file (multipart field "file"; none for a task that takes no file) and options to
// /tasks/<kind>.
// Resolves to {result, serverMs, roundTripMs}; rejects with ApiError(the server's sentence).
export async function runTask(kind, file, options) {
  const form = new FormData();
  if (file) form.append("file", file, file.name || "upload");
  for (const [name, value] of Object.entries(options)) {
    if (value !== "" && value !== null && value !== undefined) form.append(name, value);
  }
  const started = performance.now();
  let response;
  try {
    response = await fetch(`/tasks/${kind}`,
      { method: "POST", body: form, headers: authorization() });
  } catch (error) {
    throw new ApiError(`the server could not be reached (${error.message}); is it running?`);
  }
  const body = await response.json().catch(() => null);
  const roundTripMs = performance.now() - started;
  if (!response.ok) {
    throw new ApiError(body?.error || `the server answered HTTP ${response.status}`,
      response.status);
  }
  return { result: body, serverMs: serverMs(response), roundTripMs };
}

export function liveUrl(kind, options) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = new URLSearchParams(
    Object.entries(options).filter(([, value]) => value !== "" && value != null));
  return `${scheme}://${location.host}/tasks/${kind}/live?${query}`;
}

// A WebSocket cannot carry headers: the token travels as the subprotocol `bearer.<token>`.
export function liveProtocols() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? [`bearer.${token}`] : [];
}
