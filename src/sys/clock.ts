/** clock_gettime(CLOCK_BOOTTIME): nanoseconds since the kernel booted (core.ready's clock). */
import { libc, ptr } from "./libc.ts";

const CLOCK_BOOTTIME = 7;

export function bootTimeNs(): bigint {
  const ts = new BigInt64Array(2);
  if (libc().clock_gettime(CLOCK_BOOTTIME, ptr(ts)) !== 0) return process.hrtime.bigint();
  return ts[0]! * 1_000_000_000n + ts[1]!;
}
