import { defineConfig } from 'vite';

// The web app is built into web/dist, which the server serves as static files
// (with an SPA fallback for /, /debugger and /bench). Paths are absolute so a
// deep link such as /debugger loads /assets/… correctly.
const here = new URL('.', import.meta.url).pathname;

export default defineConfig({
  root: here,
  base: '/',
  publicDir: false,
  build: {
    outDir: `${here}dist`,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // No inline assets: keeps the app working under a strict Content-Security-Policy.
    assetsInlineLimit: 0,
  },
});
