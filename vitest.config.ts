import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration and e2e suites start real servers (Kinesis, Prometheus); two cores, so keep it modest.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
