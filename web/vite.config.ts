// The web observer's build: `vite build web` (part of `npm run build`) writes it to
// dist/observer, which the package ships and `serve` answers at `/`. Everything is bundled
// (no CDN) and no source maps are written: the package ships none.
import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [preact()],
  base: "/",
  build: {
    outDir: "../dist/observer",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    reportCompressedSize: true,
  },
});
