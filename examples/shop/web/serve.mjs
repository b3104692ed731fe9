// Serves the frontend in deployed environments: files as they are (no build step needed), /health for checks.

import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';

const port = Number(process.env.PORT ?? 8080);
const root = new URL('.', import.meta.url).pathname;
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
