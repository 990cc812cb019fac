/**
 * Typed wrapper around graphology-communities-louvain: under moduleResolution
 * NodeNext its CommonJS default export does not typecheck as callable (TS2349),
 * though it runs; this is the one place that casts it.
 */
import type { UndirectedGraph } from "graphology";
import louvainModule from "graphology-communities-louvain";

export interface LouvainOptions {
  getEdgeWeight?: string | null;
  resolution?: number;
  rng?: () => number;
}

type LouvainFn = (graph: UndirectedGraph, options?: LouvainOptions) => Record<string, number>;

const louvainFn = ((louvainModule as unknown as { default?: LouvainFn }).default ??
  (louvainModule as unknown as LouvainFn)) as LouvainFn;

/** Community of every node (node key → community index). */
export function louvain(graph: UndirectedGraph, options: LouvainOptions = {}): Record<string, number> {
  return louvainFn(graph, options);
}
