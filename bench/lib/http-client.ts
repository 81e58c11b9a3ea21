import http from 'node:http';

/**
 * A small keep-alive HTTP/1.1 client on node:http for the check-in benchmark: one socket per
 * concurrent client (maxSockets), no retries, the body read whole. It costs less CPU per request
 * than fetch (undici), which matters when the client shares the machine's cores with the server.
 */
export interface HttpAnswer {
  status: number;
  body: string;
}

export class BenchHttpClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string, maxSockets: number) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(method: 'GET' | 'POST', path: string, options: { token?: string; key?: string; body?: unknown } = {}): Promise<HttpAnswer> {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.key) headers['idempotency-key'] = options.key;
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    } else if (method === 'POST') {
      headers['content-length'] = '0';
    }
    return new Promise((resolve, reject) => {
      const request = http.request({ agent: this.agent, host: this.host, port: this.port, method, path, headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
