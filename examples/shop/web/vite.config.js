// Vite dev server settings. Under `stagecraft dev` the app is served at https://app.localhost through the
// dev proxy (WebSocket upgrades pass through, so HMR needs no extra settings); /api calls from the page go
// through Vite's own proxy to the backend.
import { defineConfig } from 'vite';

export default defineConfig({
  server: {
    proxy: { '/api': process.env.SHOP_API_ORIGIN ?? 'http://127.0.0.1:3000' },
  },
});
