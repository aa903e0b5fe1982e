// Builds the web console into console/dist, served by the control plane under /console/.
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The server's CSP allows no inline script; keep the module preload polyfill out of index.html.
    modulePreload: { polyfill: false },
  },
});
