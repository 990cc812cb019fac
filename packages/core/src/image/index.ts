export * from "./format.js";
export * from "./proto.js";
export * from "./read.js";
export * from "./types.js";
export * from "./write.js";
export { indexToImageInfo } from "./validate.js";
