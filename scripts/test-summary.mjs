#!/usr/bin/env node
// Sums the vitest JSON reports that `npm test` leaves in each workspace
// (test-results.json) and prints the plain closing line CI reads:
//   N passed, N failed[, N skipped]
// Exits 1 when a workspace that has a test script left no report (tests did not run).
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const ws of pkg.workspaces) {
  const wsPkg = JSON.parse(readFileSync(path.join(root, ws, "package.json"), "utf8"));
  if (!wsPkg.scripts?.test) continue;
  const file = path.join(root, ws, "test-results.json");
  if (!existsSync(file)) {
    missing.push(ws);
    continue;
  }
  const r = JSON.parse(readFileSync(file, "utf8"));
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0) + (r.numFailedTestSuites ?? 0 ? 0 : 0);
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
}
if (missing.length > 0) process.stderr.write(`test-summary: no test report from ${missing.join(", ")}\n`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exitCode = missing.length > 0 || failed > 0 ? 1 : 0;
