// The shop API: a dependency-free Node HTTP server with a health check and graceful shutdown.
import { createServer } from 'node:http';
import { connect } from 'node:net';

const port = Number(process.env.PORT ?? 3000);
const version = process.env.APP_VERSION ?? 'dev';
const started = Date.now();
let stopping = false;

function databaseReachable() {
  const url = process.env.DATABASE_URL;
  if (!url) return Promise.resolve(null);
  const { hostname, port: dbPort } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(dbPort || 5432) });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const server = createServer(async (request, response) => {
  if (stopping) response.setHeader('Connection', 'close');
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path === '/health') {
    const healthy = !process.env.FAIL_HEALTH;
    response.writeHead(healthy ? 200 : 500, { 'content-type': 'text/plain' });
    response.end(healthy ? 'ok\n' : 'failing on purpose (FAIL_HEALTH is set)\n');
    return;
  }
  if (path === '/api/status' || path === '/') {
    const database = await databaseReachable();
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      `${JSON.stringify({ service: 'api', version, database, uptime_ms: Date.now() - started })}\n`,
    );
    return;
  }
  response.writeHead(404, { 'content-type': 'text/plain' });
  response.end('not found\n');
});

server.keepAliveTimeout = 5000;
server.listen(port, () => console.log(`api ${version} listening on :${port}`));

function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`api ${version} received ${signal}, draining`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
