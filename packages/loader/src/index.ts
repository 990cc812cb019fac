/**
 * @colink/loader: runtime reads of a colink flash image. See README.md.
 */
export { decodePart } from "./decode.js";
export { DIRECT_ALIGN, PositionalReader, type PositionalReaderOptions, type ReadLease } from "./io.js";
export { Bundles, type LoadPlan } from "./bundles.js";
export {
  checkImageExtents,
  Loader,
  type LoaderOptions,
  type LoaderStats,
  openImage,
  openParsedImage,
} from "./loader.js";
export { type ProbeOptions, type ProbePoint, type ProbeResult, probeDevice } from "./probe.js";
export { parseNeuronList, type ReadOptions, type ReadResult, readNeurons } from "./read.js";
export { type ReplayImageResult, type ReplayOptions, type ReplayResult, replay } from "./replay.js";
