import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { byteTokens, hfTokens } from "./tokens.js";

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "colink-tok-"));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe("token streams", () => {
  it("concatenates corpus files as bytes and honours maxTokens", async () => {
    const a = path.join(dir, "a.txt");
    const b = path.join(dir, "b.txt");
    await fs.writeFile(a, "hé");
    await fs.writeFile(b, "xyz");
    expect(Array.from(await byteTokens([a, b]))).toEqual([104, 0xc3, 0xa9, 120, 121, 122]);
    expect(Array.from(await byteTokens([a, b], 4))).toEqual([104, 0xc3, 0xa9, 120]);
  });

  it("reads a tokenizer.json through @huggingface/tokenizers without special tokens", async () => {
    const tok = path.join(dir, "tokenizer.json");
    await fs.writeFile(
      tok,
      JSON.stringify({
        version: "1.0",
        truncation: null,
        padding: null,
        added_tokens: [{ id: 0, content: "[UNK]", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
        normalizer: null,
        pre_tokenizer: { type: "Whitespace" },
        post_processor: null,
        decoder: null,
        model: { type: "WordLevel", vocab: { "[UNK]": 0, hello: 1, world: 2, again: 3 }, unk_token: "[UNK]" },
      }),
    );
    const c1 = path.join(dir, "c1.txt");
    const c2 = path.join(dir, "c2.txt");
    await fs.writeFile(c1, "hello world");
    await fs.writeFile(c2, "world again nope");
    expect(Array.from(await hfTokens(tok, [c1, c2]))).toEqual([1, 2, 2, 3, 0]);
    expect(Array.from(await hfTokens(tok, [c1, c2], 3))).toEqual([1, 2, 2]);
  });
});
