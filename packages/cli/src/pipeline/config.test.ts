import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { defaultConfig, readConfigFile, resolveConfig } from "./config.js";

const dir = mkdtempSync(path.join(tmpdir(), "colink-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("pipeline config", () => {
  it("defaults point at the bundled model and corpus", () => {
    const c = resolveConfig({}, {});
    expect(c.model).toBe(defaultConfig().model);
    expect(c.methods).toEqual(["identity", "frequency", "neuralink", "colink"]);
    expect(c.name).toBe("demo");
  });

  it("a config file sets fields, paths relative to the file; flags override the file", async () => {
    const file = path.join(dir, "release.json");
    writeFileSync(file, JSON.stringify({ device: "profiles/phone.json" }));
    expect((await readConfigFile(file)).device).toBe(path.join(dir, "profiles/phone.json"));
    writeFileSync(file, JSON.stringify({ name: "rel", cacheFraction: 0.05, methods: "identity,neuralink", out: "runs", device: "ufs31" }));
    const fromFile = await readConfigFile(file);
    expect(fromFile.out).toBe(path.join(dir, "runs"));
    const c = resolveConfig(fromFile, { cacheFraction: 0.2, name: undefined });
    expect(c.cacheFraction).toBe(0.2);
    expect(c.name).toBe("rel");
    expect(c.device).toBe("ufs31");
    // the chosen method and both ratio baselines are always compared
    expect(c.methods).toEqual(["identity", "neuralink", "colink"]);
  });

  it("bad fields fail with one line naming the field", async () => {
    const file = path.join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ cacheFractoin: 0.1 }));
    await expect(readConfigFile(file)).rejects.toThrow(/unknown field "cacheFractoin"/);
    writeFileSync(file, JSON.stringify({ seqLen: "long" }));
    await expect(readConfigFile(file)).rejects.toThrow(/field "seqLen" must be a number/);
    expect(() => resolveConfig({}, { cacheFraction: 1.5 })).toThrow(/cacheFraction must be a number in \[0, 1\), got 1.5/);
    expect(() => resolveConfig({}, { method: "magic" })).toThrow(/method must be one of/);
    expect(() => resolveConfig({}, { methods: "identity,magic" })).toThrow(/unknown method "magic"/);
    expect(() => resolveConfig({}, { device: "floppy" })).toThrow(/device must be one of/);
    expect(() => resolveConfig({}, { model: path.join(dir, "nope") })).toThrow(/no config.json/);
    expect(() => resolveConfig({}, { tokenizer: path.join(dir, "nope.json") })).toThrow(/tokenizer .*nope\.json: no such file/);
  });

  it("activation rule: nonzero by default; threshold needs tau, target-sparsity a target", () => {
    const d = resolveConfig({}, {});
    expect([d.activation, d.tau, d.target]).toEqual(["nonzero", -1, -1]);
    expect(resolveConfig({}, { activation: "threshold", tau: 0.05 })).toMatchObject({ activation: "threshold", tau: 0.05 });
    expect(resolveConfig({}, { activation: "target-sparsity", target: 0.1 })).toMatchObject({ activation: "target-sparsity", target: 0.1 });
    expect(() => resolveConfig({}, { activation: "threshold" })).toThrow(/activation threshold needs tau/);
    expect(() => resolveConfig({}, { activation: "target-sparsity" })).toThrow(/activation target-sparsity needs target/);
    expect(() => resolveConfig({}, { activation: "target-sparsity", target: 2 })).toThrow(/target must be a fraction in \(0, 1\]/);
    expect(() => resolveConfig({}, { activation: "gelu" })).toThrow(/activation must be one of nonzero, threshold, target-sparsity/);
  });

  it("tokenizer: the profiler's default, bytes, or a file (relative to the config file)", async () => {
    expect(resolveConfig({}, {}).tokenizer).toBe("");
    expect(resolveConfig({}, { tokenizer: "bytes" }).tokenizer).toBe("bytes");
    writeFileSync(path.join(dir, "tok.json"), "{}");
    const file = path.join(dir, "with-tok.json");
    writeFileSync(file, JSON.stringify({ tokenizer: "tok.json" }));
    expect(resolveConfig(await readConfigFile(file), {}).tokenizer).toBe(path.join(dir, "tok.json"));
  });

  it("tokenIds replaces the default corpus; both given is an error", async () => {
    expect(resolveConfig({}, {}).tokenIds).toBe("");
    const ids = path.join(dir, "ids.npy");
    writeFileSync(ids, "");
    const c = resolveConfig({}, { tokenIds: ids });
    expect([c.tokenIds, c.corpus]).toEqual([ids, ""]);
    const file = path.join(dir, "with-ids.json");
    writeFileSync(file, JSON.stringify({ tokenIds: "ids.npy" }));
    expect(resolveConfig(await readConfigFile(file), {}).tokenIds).toBe(ids);
    expect(() => resolveConfig({}, { tokenIds: ids, corpus: defaultConfig().corpus })).toThrow(/give either corpus or tokenIds, not both/);
    expect(() => resolveConfig({}, { tokenIds: path.join(dir, "nope.npy") })).toThrow(/tokenIds .*nope\.npy: no such file/);
  });
});
