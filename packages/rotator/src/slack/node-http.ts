import http from 'node:http';
import https from 'node:https';

/** What the transport reads of an HTTP answer: the same from `fetch` and from `node:http`. */
export interface HttpAnswer {
  status: number;
  /** A response header, or `null` when absent. */
  header(name: string): string | null;
  /** The whole body as text; rejects if the connection breaks before it ends. */
  text(): Promise<string>;
}

/** One form POST. */
export interface HttpRequest {
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
}

/** Sends a request and settles with the answer's head (its body is read by `text()`). */
export type HttpSend = (url: string, request: HttpRequest) => Promise<HttpAnswer>;

/** The given `fetch` as an {@link HttpSend}. */
export function sendWithFetch(fetchImpl: typeof globalThis.fetch): HttpSend {
  return async (url, { headers, body, signal }) => {
    const response = await fetchImpl(url, { method: 'POST', headers, body, signal });
    return {
      status: response.status,
      header: (name) => response.headers.get(name),
      text: () => response.text(),
    };
  };
}

/**
 * The default sender: `node:http` / `node:https` with keep-alive agents of its own. The global
 * `fetch` builds WHATWG requests, headers and streams for every call; this costs about a third of
 * its CPU time per request (measured in docs/BENCHMARKS.md), which matters to a process that
 * refreshes hundreds of chains at once. Idle kept-alive sockets do not keep the process alive.
 */
export function createNodeHttp(): { send: HttpSend; close(): void } {
  const agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };
  const send: HttpSend = (url, { headers, body, signal }) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      const target = new URL(url);
      const secure = target.protocol === 'https:';
      if (!secure && target.protocol !== 'http:') {
        reject(new TypeError(`unsupported protocol ${target.protocol}`));
        return;
      }
      const request = (secure ? https : http).request(
        target,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          agent: secure ? agents['https:'] : agents['http:'],
          signal,
        },
        (response) => {
          resolve({
            status: response.statusCode ?? 0,
            header(name) {
              const value = response.headers[name.toLowerCase()];
              if (value === undefined) return null;
              return Array.isArray(value) ? value.join(', ') : value;
            },
            async text() {
              const chunks: Buffer[] = [];
              // Rejects when the connection breaks (or the signal aborts) before the body ends.
              for await (const chunk of response) chunks.push(chunk as Buffer);
              return Buffer.concat(chunks).toString('utf8');
            },
          });
        },
      );
      // Before the answer's head: the request failed. After it: reading the body fails instead.
      request.on('error', reject);
      request.end(body);
    });
  return {
    send,
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
