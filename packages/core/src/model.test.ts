import { describe, expect, it } from "vitest";
import type { ColinkError } from "./errors.js";
import { bundleBytesOf, ffnParts, modelSpecFromConfig } from "./model.js";

const llama = {
  architectures: ["LlamaForCausalLM"],
  hidden_act: "relu",
  hidden_size: 192,
  intermediate_size: 768,
  num_hidden_layers: 4,
  num_attention_heads: 6,
  num_key_value_heads: 6,
  vocab_size: 256,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
};

describe("modelSpecFromConfig", () => {
  it("reads a Llama config and names the model after its directory", () => {
    const s = modelSpecFromConfig(llama, "/x/tiny-relu-llama/config.json");
    expect(s).toMatchObject({ family: "llama", modelId: "tiny-relu-llama", layers: 4, hidden: 192, ffn: 768, heads: 6, kvHeads: 6, headDim: 32, act: "relu", normEps: 1e-5 });
  });

  it("reads Mistral GQA and OPT 350m-style configs", () => {
    const m = modelSpecFromConfig({ ...llama, architectures: ["MistralForCausalLM"], num_key_value_heads: 2, hidden_act: "silu" }, "c.json");
    expect(m.kvHeads).toBe(2);
    expect(modelSpecFromConfig({ ...llama, architectures: ["MistralForCausalLM"], sliding_window: 4096 }, "c.json").slidingWindow).toBe(4096);
    expect(m.act).toBe("silu");
    const o = modelSpecFromConfig(
      {
        architectures: ["OPTForCausalLM"],
        hidden_size: 64,
        ffn_dim: 256,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        vocab_size: 100,
        max_position_embeddings: 64,
        do_layer_norm_before: false,
        word_embed_proj_dim: 32,
        activation_function: "relu",
        _name_or_path: "facebook/opt-350m",
      },
      "c.json",
    );
    expect(o).toMatchObject({ family: "opt", modelId: "facebook/opt-350m", ffn: 256, wordEmbedProjDim: 32, doLayerNormBefore: false, finalLayerNorm: false, enableBias: true });
  });

  it("refuses unsupported architectures and activations with the file name", () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as ColinkError;
      }
      throw new Error("expected a throw");
    };
    const e1 = err(() => modelSpecFromConfig({ ...llama, architectures: ["GPT2LMHeadModel"] }, "m/config.json"));
    expect(e1.code).toBe("UNSUPPORTED");
    expect(e1.message).toMatch(/^m\/config\.json: architecture GPT2LMHeadModel is not supported/);
    expect(err(() => modelSpecFromConfig({ ...llama, hidden_act: "swish7" }, "c.json")).code).toBe("UNSUPPORTED");
    expect(err(() => modelSpecFromConfig({ ...llama, hidden_size: "x" }, "c.json")).message).toMatch(/hidden_size/);
  });
});

describe("ffnParts", () => {
  it("lists Llama and OPT bundle parts in bundle order", () => {
    const s = modelSpecFromConfig(llama, "t/config.json");
    expect(ffnParts(s, 3)).toEqual([
      { name: "gate", tensor: "model.layers.3.mlp.gate_proj.weight", layout: "row", elements: 192 },
      { name: "up", tensor: "model.layers.3.mlp.up_proj.weight", layout: "row", elements: 192 },
      { name: "down", tensor: "model.layers.3.mlp.down_proj.weight", layout: "column", elements: 192 },
    ]);
    const o = modelSpecFromConfig(
      { architectures: ["OPTForCausalLM"], hidden_size: 64, ffn_dim: 256, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 100, max_position_embeddings: 64 },
      "c.json",
    );
    expect(ffnParts(o, 1).map((p) => [p.name, p.tensor, p.layout, p.elements])).toEqual([
      ["fc1", "model.decoder.layers.1.fc1.weight", "row", 64],
      ["fc1_bias", "model.decoder.layers.1.fc1.bias", "element", 1],
      ["fc2", "model.decoder.layers.1.fc2.weight", "column", 64],
    ]);
    expect(() => ffnParts(s, 4)).toThrow(/layer 4 is out of range/);
  });

  it("bundle bytes follow the family and dtype (Llama: gate + up + down; OPT: fc1 + bias + fc2)", () => {
    const l7 = modelSpecFromConfig({ architectures: ["LlamaForCausalLM"], hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, vocab_size: 32000, max_position_embeddings: 4096 }, "l7");
    expect(bundleBytesOf(l7, "f16")).toBe(3 * 4096 * 2); // 24 KiB, Llama-2-7B
    expect(bundleBytesOf(l7, "f32")).toBe(3 * 4096 * 4);
    expect(bundleBytesOf(l7, "q4_0")).toBe(((3 * 4096) / 32) * 18);
    const opt = { architectures: ["OPTForCausalLM"], hidden_size: 4096, ffn_dim: 16384, num_hidden_layers: 32, num_attention_heads: 32, vocab_size: 50272, max_position_embeddings: 2048 };
    expect(bundleBytesOf(modelSpecFromConfig(opt, "opt"), "f16")).toBe(2 * 4096 * 2 + 2);
    expect(bundleBytesOf(modelSpecFromConfig(opt, "opt"), "q8_0")).toBe(((2 * 4096) / 32) * 34 + 4); // the bias stays f32
    expect(bundleBytesOf(modelSpecFromConfig({ ...opt, enable_bias: false }, "opt"), "f16")).toBe(2 * 4096 * 2);
  });
});
