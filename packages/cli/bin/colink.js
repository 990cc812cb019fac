#!/usr/bin/env node
// The `colink` command. Built sources live in ../dist (npm ci builds them via `prepare`).
import { main } from "../dist/main.js";

process.exitCode = await main(process.argv.slice(2));
