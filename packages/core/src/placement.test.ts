import { describe, expect, it } from "vitest";
import { validatePlacement } from "./placement.js";

const order = [2, 0, 3, 1];
const placement = (layer: Record<string, unknown>, top: Record<string, unknown> = {}) => ({
  format: "colink.placement/1",
  method: "x",
  ...top,
  layers: [{ layer: 0, order, ...layer }],
});

describe("validatePlacement", () => {
  it("holds a declared cache to the placement's own params.cacheFraction when no budget is given", () => {
    const cache = { pinned: [1], lru: 1, gapfill: false };
    // floor(0.5 x 4) = 2 bundles: fits; floor(0.25 x 4) = 1: over
    expect(() => validatePlacement(placement({ cache }, { params: { cacheFraction: 0.5 } }), "p.json")).not.toThrow();
    expect(() => validatePlacement(placement({ cache }, { params: { cacheFraction: 0.25 } }), "p.json")).toThrow(
      "p.json: layers[0].cache (params.cacheFraction 0.25): cache holds 1 pinned + 1 lru = 2 bundles, over the budget of 1",
    );
    // without params the contract sets no budget; an explicit one wins over params
    expect(() => validatePlacement(placement({ cache }), "p.json")).not.toThrow();
    expect(() => validatePlacement(placement({ cache }, { params: { cacheFraction: 0.25 } }), "p.json", undefined, 2)).not.toThrow();
  });

  it("rejects freq that is not one count >= 0 per neuron, and a non-integer lru by its JSON value", () => {
    expect(() => validatePlacement(placement({ freq: [1, 0, 5, 2] }), "p.json")).not.toThrow();
    expect(() => validatePlacement(placement({ freq: [1, -1, 5, 2] }), "p.json")).toThrow("layers[0].freq must be an array of 4 integer counts >= 0");
    expect(() => validatePlacement(placement({ freq: [1, 2] }), "p.json")).toThrow("layers[0].freq must be an array of 4 integer counts >= 0");
    expect(() => validatePlacement(placement({ cache: { pinned: [], lru: "2", gapfill: false } }), "p.json")).toThrow('lru must be an integer >= 0, got "2"');
  });
});
