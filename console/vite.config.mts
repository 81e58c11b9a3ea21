import { defineConfig } from 'vite';

// The console's build: Vite 8 transforms TSX with oxc itself (no React plugin needed), using
// React's automatic JSX runtime; the output goes to dist/console, which the service serves at
// /console (src/api/common/console-static.ts), so every URL is under that base.
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    // A hashed name per file: the service caches /console/assets/* for a year.
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1500,
  },
  logLevel: 'warn',
});
