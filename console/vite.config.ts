// The console's build: `vite build console` (npm run build:console) writes console/dist/, which
// build/copy-assets.ts copies into dist/ for the pods and the admin serves at /console.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  // Preact's automatic JSX runtime through Vite's own esbuild: no framework plugin needed.
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No inline scripts or styles anywhere, so the admin's CSP can forbid them.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
});
