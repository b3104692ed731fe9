// Serves the frontend in deployed environments: files as they are (no build step needed), /health for checks,
// and /api/… passed on to the API service (API_ORIGIN, default the compose service api), so the page calls its
// own origin, as it does under Vite.

import { readFile } from 'node:fs/promises';
import { createServer, request as forward } from 'node:http';
import { extname, join, normalize } from 'node:path';

const port = Number(process.env.PORT ?? 8080);
const root = new URL('.', import.meta.url).pathname;
const apiOrigin = new URL(process.env.API_ORIGIN ?? 'http://api:3000');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
let stopping = false;

const server = createServer(async (request, response) => {
  if (stopping) response.setHeader('Connection', 'close');
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path === '/version') {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end(`${process.env.APP_VERSION ?? 'dev'}\n`);
    return;
  }
  if (path === '/health') {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('ok\n');
    return;
  }
  if (path === '/api' || path.startsWith('/api/')) {
    const upstream = forward(
      {
        host: apiOrigin.hostname,
        port: apiOrigin.port,
        method: request.method,
        path: request.url,
        headers: request.headers,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
      response.end('API unreachable\n');
    });
    request.pipe(upstream);
    return;
  }
  const file = normalize(join(root, path === '/' ? 'index.html' : path));
  if (!file.startsWith(root)) {
    response.writeHead(403).end();
    return;
  }
  try {
    const body = await readFile(file);
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    response.end(body);
  } catch {
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found\n');
  }
});
server.listen(port, () => console.log(`web listening on :${port}`));
process.on('SIGTERM', () => {
  stopping = true;
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
});
