import { describe, expect, it } from "vitest";
import { colink } from "./helpers.js";

describe("colink CLI conventions", () => {
  it("--help lists the commands and exits 0", () => {
    const r = colink(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Commands:/);
    expect(r.stdout).toMatch(/colink pipeline/);
  });

  it("an unknown command exits 1 with one line on stderr", () => {
    const r = colink(["nonsense"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^colink: .*nonsense/);
  });

  it("no command exits 1 and says so", () => {
    const r = colink([]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no command given/);
  });

  it("an unknown option exits 1", () => {
    const r = colink(["--frobnicate"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("a value outside an option's choices names the option, the value and the choices on one line", () => {
    const r = colink(["place", "-t", "t.arrow", "-o", "p.json", "--method", "magic"]);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Argument: method, Given: "magic", Choices: "colink", "neuralink", "frequency", "identity"/);
  });

  it("a number option given text names the option and the text on one line", () => {
    const cases: Array<[string[], RegExp]> = [
      [["--seed", "abc"], /--seed must be a number, got "abc"/],
      [["--bundle-bytes=24k"], /--bundle-bytes must be a number, got "24k"/],
    ];
    for (const [args, message] of cases) {
      const r = colink(["place", "-t", "t.arrow", "-o", "p.json", ...args]);
      expect(r.status).toBe(1);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    }
  });
});
