/**
 * Device profiles: the storage model behind every simulated I/O time in colink.
 * A read request of `b` bytes costs `latencyUs + b / bandwidth`; requests are
 * costed one after another (queue depth 1), which is how a sparse-inference engine
 * issues a layer's reads when the next layer depends on them. Sources and the
 * reasoning behind each number are in docs/device-profiles.md.
 */
import { ColinkError, fail } from "./errors.js";
import { readJsonFile } from "./fsutil.js";

export interface DeviceProfile {
  /** Short name (`ufs31`) or the file it was loaded from. */
  name: string;
  description: string;
  /** Fixed cost of one read request in microseconds (command + access latency, QD1). */
  latencyUs: number;
  /** Sustained sequential read bandwidth in bytes per second. */
  bandwidthBytesPerSec: number;
  /** Largest single request the planner issues; longer runs are split. */
  maxRequestBytes: number;
  /** Requests the device serves concurrently; the loader's default queue depth. */
  queueDepth: number;
  /** Where the numbers come from. */
  source: string;
}

export const DEVICE_PROFILES: Readonly<Record<string, DeviceProfile>> = Object.freeze({
  ufs31: {
    name: "ufs31",
    description: "UFS 3.1 phone storage (2021-2022 flagships)",
    latencyUs: 80,
    bandwidthBytesPerSec: 2.1e9,
    maxRequestBytes: 512 * 1024,
    queueDepth: 32,
    source: "2.1 GB/s: UFS 3.1 sequential read (vendor ratings); 80 us: QD1 estimate; see docs/device-profiles.md#ufs31",
  },
  ufs40: {
    name: "ufs40",
    description: "UFS 4.0 phone storage (2023+ flagships)",
    latencyUs: 60,
    bandwidthBytesPerSec: 4.2e9,
    maxRequestBytes: 512 * 1024,
    queueDepth: 32,
    source: "4.2 GB/s: Samsung UFS 4.0 announcement (May 2022); 60 us: QD1 estimate; see docs/device-profiles.md#ufs40",
  },
  nvme: {
    name: "nvme",
    description: "PCIe 3.0 x4 NVMe SSD (workstation)",
    latencyUs: 25,
    bandwidthBytesPerSec: 3.5e9,
    maxRequestBytes: 1024 * 1024,
    queueDepth: 64,
    source: "3.5 GB/s: PCIe 3.0 x4 TLC SSD rating; 25 us: QD1 estimate; see docs/device-profiles.md#nvme",
  },
});

export const DEFAULT_DEVICE = "ufs40";

/** Checks a parsed profile object field by field; `where` names its origin in errors. */
export function validateDeviceProfile(value: unknown, where: string): DeviceProfile {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    fail("BAD_FORMAT", `${where}: expected a JSON object with latencyUs, bandwidthBytesPerSec, maxRequestBytes`, where);
  const v = value as Record<string, unknown>;
  const num = (key: string, min: number, dflt?: number): number => {
    const x = v[key] ?? dflt;
    if (typeof x !== "number" || !Number.isFinite(x) || x < min)
      fail("BAD_FORMAT", `${where}: field "${key}" must be a number >= ${min}, got ${JSON.stringify(v[key])}`, where);
    return x;
  };
  return {
    name: typeof v.name === "string" ? v.name : where,
    description: typeof v.description === "string" ? v.description : "",
    latencyUs: num("latencyUs", 0),
    bandwidthBytesPerSec: num("bandwidthBytesPerSec", 1),
    maxRequestBytes: num("maxRequestBytes", 4096, 512 * 1024),
    queueDepth: Math.floor(num("queueDepth", 1, 32)),
    source: typeof v.source === "string" ? v.source : "",
  };
}

/** Resolves `--device`: a built-in profile name, or a JSON file (e.g. from `colink device probe`). */
export async function resolveDeviceProfile(nameOrFile: string): Promise<DeviceProfile> {
  const builtin = DEVICE_PROFILES[nameOrFile];
  if (builtin) return { ...builtin };
  if (!/[./\\]/.test(nameOrFile))
    throw new ColinkError(
      "BAD_ARGUMENT",
      `unknown device profile "${nameOrFile}": expected one of ${Object.keys(DEVICE_PROFILES).join(", ")} or a profile JSON file`,
    );
  return validateDeviceProfile(await readJsonFile(nameOrFile), nameOrFile);
}

/** Simulated time in microseconds of one request of `bytes` bytes. */
export function requestCostUs(device: DeviceProfile, bytes: number): number {
  return device.latencyUs + (bytes * 1e6) / device.bandwidthBytesPerSec;
}
