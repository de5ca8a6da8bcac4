// Browser tests: Playwright (playwright-core) drives Debian's Chromium against www/ served by
// web/server/serve.mjs on 127.0.0.1. See e2e/README.md.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  test: {
    include: ["e2e/**/*.e2e.ts"],
    globalSetup: ["e2e/global-setup.ts"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    pool: "forks",
    reporters: ["verbose"],
  },
});
