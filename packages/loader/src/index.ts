/**
 * @colink/loader: runtime reads of a colink flash image. See README.md.
 */
export { Bundles, checkImageExtents, Loader, type LoaderOptions, type LoaderStats, openParsedImage } from "./loader.js";
export { DIRECT_ALIGN, PositionalReader, type PositionalReaderOptions, type ReadLease } from "./io.js";
