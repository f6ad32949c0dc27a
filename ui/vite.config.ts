/// <reference types="vitest/config" />
import { defineConfig } from "vite";

// Plain Vite: Preact's JSX is compiled by Vite's own transform (tsconfig's
// jsxImportSource), so no Babel plugin is needed. `base: "./"` keeps asset URLs
// relative, which works both behind the relay (`/`) and from Tauri's `tauri://localhost`.
export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // One small bundle; no inline scripts or eval, so a strict CSP works.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
