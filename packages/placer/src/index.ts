/** @colink/placer: co-activation statistics, placement methods, DRAM co-design, evaluation. */
export { activationCounts, countPairs, countPairsPopcount, type LayerTokens, type PairCounts, sampleTokens, topKEdges } from "./cooccur.js";
export { cacheCandidates, chooseBest, fitCostUs } from "./codesign.js";
export { type EvaluateOptions, type EvaluateResult, evaluatePlacement } from "./evaluate.js";
export { type LayerJob, type LayerResult, placeLayer } from "./layer.js";
export { PathLinker } from "./link.js";
export {
  buildColinkGraph,
  type ColinkOptions,
  colinkOrder,
  frequencyOrder,
  identityLayerOrder,
  METHODS,
  type Method,
  neuralinkOrder,
} from "./methods.js";
export { type PlaceOptions, type PlaceResult, placeTraces } from "./place.js";
export { bundleBytesFromMeta, bundleBytesFromModel, DEFAULT_BUNDLE_BYTES, openTraceSet, readSplit } from "./traces.js";
