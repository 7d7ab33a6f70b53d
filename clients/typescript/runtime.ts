// The client runtime: generate.mjs copies this file into every generated module, under
// the message types, and the generated client classes extend ChanxClient. It needs no
// DOM or Node types: it uses WebSocket and the timers through the interfaces below.

/** One frame of the chanx wire protocol (PROTOCOL.md): an action, its payload and the envelope keys. */
export interface ChanxFrame {
  action: string;
  payload?: unknown;
  ref?: string;
  version?: number;
  topic?: string;
  seq?: number;
}

/** What the client uses of a WebSocket: the browser's, Node's global one (Node 22+) and the `ws` package's all fit. */
export interface ChanxSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { readonly code: number; readonly reason: string }) => void): void;
  addEventListener(type: "open" | "error", listener: () => void): void;
}

export type ChanxSocketConstructor = new (url: string) => ChanxSocket;

/** Reconnection after the connection is lost: exponential backoff, each wait drawn between half and all of its delay. */
export interface ChanxReconnectOptions {
  /** The first delay in milliseconds (default 500). */
  initialDelay?: number;
  /** The longest delay in milliseconds (default 30000). */
  maxDelay?: number;
  /** How much each delay grows on the previous one (default 2). */
  factor?: number;
  /** How many attempts in a row before giving up (default: no limit). */
  maxAttempts?: number;
}

export interface ChanxClientOptions {
  /** The WebSocket class; by default the global `WebSocket` (browsers, Node 22+). Pass `ws`'s on older Node. */
  WebSocket?: ChanxSocketConstructor;
  /** Milliseconds a request waits for its reply before it fails with ChanxTimeoutError (default 10000). */
  timeout?: number;
  /**
   * Whether the server sends completion frames (`Settings::send_completion`): then a request
   * whose operation has no reply resolves on its `complete` frame, and fails on an `error`
   * frame, instead of as soon as it is sent.
   */
  completion?: boolean;
  /**
   * Reconnect with backoff when the connection is lost (off by default; never after
   * `close()`, nor after a close code from 4000 to 4999, which is the server refusing).
   * Topics subscribed through the client are subscribed again once reconnected.
   */
  reconnect?: boolean | ChanxReconnectOptions;
  /** Called each time the connection opens, reconnections included. */
  onOpen?: () => void;
  /** Called each time the connection closes, with the close code and reason. */
  onClose?: (code: number, reason: string) => void;
}

export interface ChanxRequestOptions {
  /** This request's timeout in milliseconds, instead of the client's. */
  timeout?: number;
}

/** A request answered with an `error` frame carrying its `ref`. */
export class ChanxError<Frame extends ChanxFrame = ChanxFrame> extends Error {
  readonly frame: Frame;

  constructor(frame: Frame) {
    super(`chanx error: ${JSON.stringify(frame.payload)}`);
    this.name = "ChanxError";
    this.frame = frame;
  }
}

/** A request not answered in time. */
export class ChanxTimeoutError extends Error {
  readonly request: ChanxFrame;

  constructor(request: ChanxFrame, timeout: number) {
    super(`no reply to '${request.action}' (ref ${request.ref}) within ${timeout} ms`);
    this.name = "ChanxTimeoutError";
    this.request = request;
  }
}

/** A request made while the connection is not open, or pending when it closed. */
export class ChanxClosedError extends Error {
  readonly request: ChanxFrame;

  constructor(request: ChanxFrame) {
    super(`the connection is not open ('${request.action}', ref ${request.ref})`);
    this.name = "ChanxClosedError";
    this.request = request;
  }
}

interface Timers {
  setTimeout(callback: () => void, delay: number): unknown;
  clearTimeout(handle: unknown): void;
}

const timers = globalThis as unknown as Timers;

interface Pending {
  frame: ChanxFrame;
  replies: readonly string[];
  resolve(frame: ChanxFrame | undefined): void;
  reject(error: Error): void;
  timer: unknown;
}

const OPEN = 1;

/**
 * A connection to one chanx address. `Incoming` is every frame the server may send there,
 * `Outgoing` every frame it takes. The generated subclasses add a method per request.
 */
export class ChanxClient<Incoming extends ChanxFrame, Outgoing extends ChanxFrame> {
  private socket: ChanxSocket | undefined;
  private closedByUser = false;
  private attempts = 0;
  private nextRef = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Map<string, Set<(frame: Incoming) => void>>();
  private readonly topics = new Set<string>();
  readonly url: string;
  private readonly options: ChanxClientOptions;

  /** A client of `url` (`ws://` or `wss://`), not connected yet: see `connect()`. */
  constructor(url: string, options: ChanxClientOptions = {}) {
    this.url = url;
    this.options = options;
  }

  /** Opens the connection; resolves once it is open, rejects if it cannot open. */
  connect(): Promise<void> {
    this.closedByUser = false;
    return new Promise((resolve, reject) => this.open(resolve, reject));
  }

  /** Closes the connection for good: no reconnection; pending requests fail. */
  close(code = 1000, reason = ""): void {
    this.closedByUser = true;
    this.socket?.close(code, reason);
  }

  /** Whether the connection is open. */
  get connected(): boolean {
    return this.socket?.readyState === OPEN;
  }

  /**
   * Calls `handler` with each frame of `action` that answers no pending request
   * (events, broadcasts, topic pushes, errors without a request). Returns the function that
   * removes it.
   */
  on<Action extends Incoming["action"]>(
    action: Action,
    handler: (frame: Extract<Incoming, { action: Action }>) => void,
  ): () => void {
    const handlers = this.listeners.get(action) ?? new Set();
    this.listeners.set(action, handlers);
    const listener = handler as (frame: Incoming) => void;
    handlers.add(listener);
    return () => handlers.delete(listener);
  }

  /** Sends a frame as it is, without waiting for anything. */
  send(frame: Outgoing): void {
    if (!this.connected) {
      throw new ChanxClosedError(frame);
    }
    this.socket?.send(JSON.stringify(frame));
  }

  /**
   * Sends `frame` with a fresh `ref` and resolves with the first frame carrying that ref
   * whose action is one of `replies`; rejects with ChanxError on an `error` frame carrying it.
   * With no `replies`, resolves once sent, or on `complete` with the `completion` option.
   */
  protected request<Reply extends ChanxFrame | undefined>(
    frame: ChanxFrame,
    replies: readonly string[],
    options: ChanxRequestOptions = {},
  ): Promise<Reply> {
    const request = { ...frame, ref: `${++this.nextRef}` };
    if (!this.connected) {
      return Promise.reject(new ChanxClosedError(request));
    }
    const awaited = replies.length > 0 ? replies : this.options.completion ? ["complete"] : [];
    return new Promise<Reply>((resolve, reject) => {
      if (awaited.length > 0) {
        const timeout = options.timeout ?? this.options.timeout ?? 10_000;
        const timer = timers.setTimeout(() => {
          this.pending.delete(request.ref);
          reject(new ChanxTimeoutError(request, timeout));
        }, timeout);
        const settle = (reply: ChanxFrame | undefined) => resolve((replies.length > 0 ? reply : undefined) as Reply);
        this.pending.set(request.ref, { frame: request, replies: awaited, resolve: settle, reject, timer });
      }
      this.socket?.send(JSON.stringify(request));
      if (awaited.length === 0) {
        resolve(undefined as Reply);
      }
    });
  }

  /** Subscribes to `topic`; the client subscribes to it again after each reconnection. */
  protected async subscribeTopic<Reply extends ChanxFrame>(
    topic: string,
    options?: ChanxRequestOptions,
  ): Promise<Reply> {
    const reply = await this.request<Reply>({ action: "subscribe", topic }, ["subscribed"], options);
    this.topics.add(topic);
    return reply;
  }

  /** Unsubscribes from `topic`, which is then no longer subscribed to after a reconnection. */
  protected unsubscribeTopic<Reply extends ChanxFrame>(topic: string, options?: ChanxRequestOptions): Promise<Reply> {
    this.topics.delete(topic);
    return this.request<Reply>({ action: "unsubscribe", topic }, ["unsubscribed"], options);
  }

  private open(resolve?: () => void, reject?: (error: Error) => void): void {
    const WebSocket = this.options.WebSocket ?? (globalThis as { WebSocket?: ChanxSocketConstructor }).WebSocket;
    if (WebSocket === undefined) {
      reject?.(new Error("no WebSocket: pass one as the WebSocket option (the `ws` package on Node before 22)"));
      return;
    }
    const socket = new WebSocket(this.url);
    this.socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      this.attempts = 0;
      this.options.onOpen?.();
      resolve?.();
      for (const topic of this.topics) {
        this.request({ action: "subscribe", topic }, ["subscribed"]).catch((error: unknown) => {
          if (error instanceof ChanxError) {
            this.topics.delete(topic);
            this.dispatch(error.frame);
          }
        });
      }
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => {
      for (const [ref, pending] of this.pending) {
        timers.clearTimeout(pending.timer);
        this.pending.delete(ref);
        pending.reject(new ChanxClosedError(pending.frame));
      }
      if (!opened) {
        reject?.(new Error(`could not connect to ${this.url} (close code ${event.code})`));
      }
      this.options.onClose?.(event.code, event.reason);
      const refused = event.code >= 4000 && event.code < 5000;
      if (!this.closedByUser && !refused && (opened || resolve === undefined)) {
        this.reconnect();
      }
    });
  }

  private reconnect(): void {
    const setting = this.options.reconnect;
    if (!setting) {
      return;
    }
    const {
      initialDelay = 500,
      maxDelay = 30_000,
      factor = 2,
      maxAttempts = Infinity,
    } = setting === true ? {} : setting;
    if (this.attempts >= maxAttempts) {
      return;
    }
    const delay = Math.min(maxDelay, initialDelay * factor ** this.attempts);
    this.attempts += 1;
    timers.setTimeout(
      () => {
        if (!this.closedByUser) {
          this.open();
        }
      },
      delay * (0.5 + Math.random() / 2),
    );
  }

  private receive(data: unknown): void {
    let frame: unknown;
    try {
      frame = JSON.parse(String(data));
    } catch {
      return;
    }
    if (typeof frame !== "object" || frame === null || typeof (frame as ChanxFrame).action !== "string") {
      return;
    }
    const { action, ref } = frame as ChanxFrame;
    const pending = ref === undefined ? undefined : this.pending.get(ref);
    if (pending !== undefined && ref !== undefined && (action === "error" || pending.replies.includes(action))) {
      timers.clearTimeout(pending.timer);
      this.pending.delete(ref);
      if (action === "error") {
        pending.reject(new ChanxError(frame as ChanxFrame));
      } else {
        pending.resolve(frame as ChanxFrame);
      }
      return;
    }
    this.dispatch(frame as ChanxFrame);
  }

  private dispatch(frame: ChanxFrame): void {
    for (const handler of this.listeners.get(frame.action) ?? []) {
      handler(frame as Incoming);
    }
  }
}
