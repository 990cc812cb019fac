/** The packer: checkpoint + placement → .colink flash image; inspection and verification. */
export { verifyImage } from "@colink/core";
export { type InspectLayer, type InspectResult, formatInspect, inspectImage } from "./inspect.js";
export { type PackOptions, type PackResult, packImage } from "./pack.js";
export { type SyntheticModel, writeSyntheticCheckpoint } from "./synthetic.js";
