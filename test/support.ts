/** Small helpers shared by the test tiers. */
import { RemoteFsError } from "../src/host/errors.ts";

/** The guest's error text for an fs operation that must fail; throws if it succeeds. */
export async function remoteError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RemoteFsError) return e.remote;
    throw e;
  }
  throw new Error("expected the guest to refuse");
}
