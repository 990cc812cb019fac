/** Command handlers, loaded lazily by commands.ts so `colink --help` stays fast. */
import { type CommonArgs, note, progress, report, type StoredDtype, verifyImage } from "@colink/core";
import { formatInspect, inspectImage } from "./inspect.js";
import { packImage } from "./pack.js";

const mib = (b: number): string => (b / 2 ** 20).toFixed(2);

export async function packCli(
  a: CommonArgs & {
    model: string;
    placement?: string;
    out: string;
    dtype?: StoredDtype;
    denseDtype?: "f32" | "f16" | "bf16";
    chunkKib: number;
    tokenizer?: string;
  },
): Promise<void> {
  if (!a.placement) note(a, "no --placement given: neurons are stored in their original order (identity)");
  let bar: ReturnType<typeof progress> | undefined;
  const r = await packImage({
    model: a.model,
    placement: a.placement,
    out: a.out,
    dtype: a.dtype,
    denseDtype: a.denseDtype,
    chunkBytes: a.chunkKib * 1024,
    tokenizer: a.tokenizer,
    onProgress: (done, total) => {
      bar ??= progress({ label: "pack", total, unit: "MB", scale: 1e-6, quiet: a.quiet });
      bar.update(done);
    },
  });
  bar?.done();
  report(a, r, () =>
    [
      `${r.path}: ${mib(r.fileSize)} MiB, ${r.layers} layers x ${r.neurons} bundles of ${r.bundleBytes} B (${r.bundleDtype}), placement ${r.placementMethod}`,
      `dense tensors: ${r.denseTensors} (${mib(r.denseBytes)} MiB); index ${r.indexBytes} bytes`,
    ].join("\n"),
  );
}

export async function inspectCli(a: CommonArgs & { image: string }): Promise<void> {
  const r = await inspectImage(a.image);
  report(a, r, () => formatInspect(r));
}

export async function verifyCli(a: CommonArgs & { image: string }): Promise<void> {
  let bar: ReturnType<typeof progress> | undefined;
  const r = await verifyImage(a.image, {
    onProgress: (done, total) => {
      bar ??= progress({ label: "verify", total, unit: "MB", scale: 1e-6, quiet: a.quiet });
      bar.update(done);
    },
  });
  bar?.done();
  report(a, { ok: true, ...r }, () => `${r.path}: OK (${r.tensors} tensors, ${r.regions} layer regions, ${r.chunks} chunks, ${mib(r.bytesChecked)} MiB checked)`);
}
