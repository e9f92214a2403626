// GraphQL for the live page: queries over HTTP, subscriptions over graphql-transport-ws
// with the vendored graphql-ws client. The connection retries for ever with a capped
// backoff, re-sends every open subscription after a reconnect, and reports its state
// ("connecting", "live", "offline") so the page can say when it is not live.

const RETRY_CAP_MS = 8000;
// The server pings every 15 s; a connection silent for longer than this is dead even
// when the socket has not noticed yet (a laptop waking, a proxy dropping it).
const SILENCE_MS = 40000;
const ACK_WAIT_MS = 8000;

export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code || "ERROR";
  }
}

export class Api {
  constructor(token, { onState, onAuthFailure }) {
    this.token = token;
    this.onState = onState;
    this.onAuthFailure = onAuthFailure;
    this.state = "connecting";
    this.lastMessage = Date.now();
    this.everConnected = false;
    this.failed = false;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.client = window.graphqlWs.createClient({
      url: `${scheme}//${location.host}/graphql`,
      connectionParams: () => ({ Authorization: `Bearer ${this.token}` }),
      lazy: false,
      keepAlive: 10000,
      // A socket that opens but is never acknowledged (a proxy holding it) is a failure.
      connectionAckWaitTimeout: ACK_WAIT_MS,
      retryAttempts: Infinity,
      shouldRetry: () => true,
      retryWait: (retries) => new Promise((resolve) => setTimeout(
        resolve, Math.min(RETRY_CAP_MS, 500 * 2 ** retries) + Math.random() * 300)),
      onNonLazyError: () => this.setState("offline"),
      on: {
        // Only the very first attempt is "connecting"; once one has failed, or a live
        // connection dropped, the page is not live until a connection is made.
        connecting: () => this.setState(this.everConnected || this.failed ? "offline" : "connecting"),
        connected: () => {
          const again = this.everConnected;
          this.everConnected = true;
          this.lastMessage = Date.now();
          this.setState("live", again);
        },
        closed: (event) => {
          this.failed = true;
          this.setState("offline");
          // 4403: the server refused the token at sign-in, or closed the socket once it
          // expired; trying again with it is no use.
          if (event?.code === 4403) {
            this.onAuthFailure(event.reason && event.reason !== "Forbidden"
              ? event.reason : "expired or not valid");
          }
        },
        // Anything the server sends (results, its pings, pongs to ours) proves it is there.
        message: () => { this.lastMessage = Date.now(); },
      },
    });
    this.watchdog = setInterval(() => {
      if (this.state === "live" && Date.now() - this.lastMessage > SILENCE_MS) {
        this.client.terminate();  // closes with 4499 and reconnects
      }
    }, 5000);
  }

  setState(state, reconnected = false) {
    const changed = state !== this.state;
    this.state = state;
    if (changed || reconnected) this.onState(state, reconnected);
  }

  async query(query, variables = {}) {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        Authorization: `Bearer ${this.token}`,
      },
      body: JSON.stringify({ query, variables }),
    });
    let body;
    try {
      body = await response.json();
    } catch {
      throw new GraphQLError([{ message: `HTTP ${response.status}`, extensions: { code: "HTTP" } }]);
    }
    if (body.errors?.length) {
      const error = new GraphQLError(body.errors);
      error.data = body.data;
      if (error.code === "UNAUTHENTICATED") this.onAuthFailure(error.message);
      throw error;
    }
    return body.data;
  }

  // Calls next(data) for each result until the returned function is called. The
  // `variables` object is sent again on every reconnect: a caller may update it in
  // place (a resume cursor). An error in the result (not yours, a bad argument, an
  // expired token) ends the subscription and goes to onError; a connection that failed
  // for good (a close the client does not retry) is subscribed again after a pause.
  subscribe(query, variables, next, onError = () => {}) {
    const payload = { query, variables };
    let stop = null;
    let stopped = false;
    const start = () => {
      stop = this.client.subscribe(payload, {
        next: (result) => {
          if (result.errors?.length) fail(new GraphQLError(result.errors));
          else next(result.data);
        },
        error: (err) => {
          if (Array.isArray(err)) fail(new GraphQLError(err));
          else if (!stopped) setTimeout(() => { if (!stopped) start(); }, RETRY_CAP_MS);
        },
        complete: () => {},
      });
    };
    const fail = (error) => {
      if (error.code === "UNAUTHENTICATED") this.onAuthFailure(error.message);
      onError(error);
    };
    start();
    return () => { stopped = true; stop?.(); };
  }

  close() {
    clearInterval(this.watchdog);
    this.client.dispose();
  }
}
