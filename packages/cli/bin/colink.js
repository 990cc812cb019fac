#!/usr/bin/env node
// The `colink` command. Built sources live in ../dist (npm ci builds them via `prepare`).

// File reads run on libuv's thread pool (4 threads by default), which would cap the
// loader's real queue depth at 4. Size it for the deepest device queue we model (32)
// unless the user chose; it must be set before the pool first runs, hence the
// dynamic import below.
process.env.UV_THREADPOOL_SIZE ??= "32";
const { main } = await import("../dist/main.js");

process.exitCode = await main(process.argv.slice(2));
