/**
 * `agentctl image build` and `agentctl vm start|stop|run`: build the guest image, boot it in
 * QEMU with agentd on DIR/agent.sock, and stop it cleanly.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentClient } from "../../client.ts";
import { freshImage } from "../../image/build.ts";
import { stageDockerContext } from "../../image/rootfs.ts";
import { CACHE_DIR, DEFAULT_IMAGE_DIR, DIST_DIR } from "../../paths.ts";
import { startVm, stopVm, type StartOptions } from "../../vm/launcher.ts";
import { runRelay } from "../../vm/relay.ts";
import { execCommand } from "./exec.ts";
import { one, parseOptions, usageError, type Parsed } from "../options.ts";

export const IMAGE_HELP = `usage: agentctl image build [--out DIR] [--force]
       agentctl image context --out DIR    (the build context of Dockerfile.guest)
Builds the guest image: Debian's cloud kernel and an initramfs with init, agentd (self-contained
under /.agentd), the exec helper, busybox and the virtio modules. Default DIR: .cache/image.
Packages are downloaded as .deb files into .cache/ and unpacked there, never installed.
example: agentctl image build --out /tmp/guest`;

export const VM_HELP = `usage: agentctl vm start --state DIR [options]
       agentctl vm stop --state DIR [--json]     (--json: {"clean": powered off by itself})
       agentctl vm run [options] -- CMD [ARGS...]
start options:
  --state DIR            where the VM keeps agent.sock, runtime/, console.log (run: a temp dir)
  --memory MIB           guest memory (default 1024)      --cpus N   vCPUs (default 2)
  --env KEY=VALUE        a MSB_* (or other) variable for the guest (repeatable)
  --share TAG=HOSTDIR    an extra virtiofs share (repeatable)
  --disk PATH            a raw disk image as virtio-blk (/dev/vda)
  --net                  user-mode network (MAC from MSB_NET, else a default with MSB_NET_IPV4)
  --kernel FILE --initrd FILE   boot these instead of the default image
  --accel tcg|kvm|auto   accelerator (default auto: KVM only if a probe shows it works)
start prints one JSON line: {"socket","runtime_dir","console_log","pid",...}.
run exits with the command's code (126/127 cannot run/not found, 128+N signal, 125 agentctl failed).
examples:
  agentctl vm run --env MSB_HOSTNAME=box -- uname -a
  agentctl vm start --state /tmp/vm --net --share data=$PWD && agentctl --socket /tmp/vm/agent.sock shell`;

const START_VALUES = ["state", "memory", "cpus", "disk", "kernel", "initrd", "accel"];
const START_REPEATABLE = ["env", "share"];

function positiveInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) <= 0)
    throw usageError(`--${name} must be a positive integer, got '${v}'`);
  return Number(v);
}

function startOptions(p: Parsed, stateDir: string, log: (m: string) => void): StartOptions {
  let kernel = one(p, "kernel");
  let initrd = one(p, "initrd");
  if ((kernel === undefined) !== (initrd === undefined))
    throw usageError("--kernel and --initrd go together");
  if (!kernel || !initrd) {
    const files = freshImage(DEFAULT_IMAGE_DIR, DIST_DIR, CACHE_DIR, log);
    kernel = files.kernel;
    initrd = files.initrd;
  }
  const shares = (p.values.get("share") ?? []).map((s) => {
    const eq = s.indexOf("=");
    if (eq <= 0) throw usageError(`--share '${s}': expected TAG=HOSTDIR`);
    return { tag: s.slice(0, eq), hostDir: s.slice(eq + 1) };
  });
  return {
    stateDir,
    kernel,
    initrd,
    memoryMiB: positiveInt(one(p, "memory"), "memory"),
    cpus: positiveInt(one(p, "cpus"), "cpus"),
    env: p.values.get("env") ?? [],
    shares,
    disk: one(p, "disk") ?? null,
    net: p.flags.has("net"),
    accel: one(p, "accel"),
    cacheDir: CACHE_DIR,
  };
}

const stderrLog = (m: string) => process.stderr.write(`agentctl: ${m}\n`);

export async function imageCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "context") {
    const p = parseOptions(rest, { values: ["out"] });
    const out = one(p, "out");
    if (!out) throw usageError("image context needs --out DIR");
    stageDockerContext(out, DIST_DIR);
    stderrLog(`Dockerfile.guest context ready in ${out}`);
    return 0;
  }
  if (sub !== "build")
    throw usageError(`unknown image command '${sub ?? ""}'; use 'agentctl image build' or 'image context'`);
  const p = parseOptions(rest, { values: ["out"], flags: ["force"] });
  const out = one(p, "out") ?? DEFAULT_IMAGE_DIR;
  const { built, ...files } = freshImage(out, DIST_DIR, CACHE_DIR, stderrLog, p.flags.has("force"));
  if (!built) stderrLog(`image in ${out} is up to date`);
  process.stdout.write(JSON.stringify(files) + "\n");
  return 0;
}

export async function vmCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "start") {
    const p = parseOptions(rest, { values: START_VALUES, repeatable: START_REPEATABLE, flags: ["net"] });
    const state = one(p, "state");
    if (!state) throw usageError("vm start needs --state DIR");
    const vm = await startVm(startOptions(p, state, stderrLog));
    process.stdout.write(JSON.stringify(vm) + "\n");
    return 0;
  }
  if (sub === "stop") {
    const p = parseOptions(rest, { values: ["state"], flags: ["json"] });
    const state = one(p, "state");
    if (!state) throw usageError("vm stop needs --state DIR");
    const { clean } = await stopVm(state);
    if (!clean) stderrLog("the guest did not power off in time; QEMU was killed");
    if (p.flags.has("json")) process.stdout.write(JSON.stringify({ clean }) + "\n");
    return 0;
  }
  if (sub === "run") {
    const p = parseOptions(rest, { values: START_VALUES, repeatable: START_REPEATABLE, flags: ["net"] });
    if (p.positional.length === 0)
      throw usageError("vm run needs a command: agentctl vm run [options] -- CMD [ARGS...]");
    const temp = one(p, "state") ? null : mkdtempSync(join(tmpdir(), "agentd-vm-"));
    const state = one(p, "state") ?? temp!;
    await startVm(startOptions(p, state, stderrLog));
    let code = 1;
    try {
      const client = await AgentClient.connect(join(state, "agent.sock"));
      try {
        code = await execCommand(client, ["--", ...p.positional]);
      } finally {
        client.close();
        await client.closed();
      }
    } finally {
      await stopVm(state);
      if (temp) rmSync(temp, { recursive: true, force: true });
    }
    return code;
  }
  if (sub === "relay") {
    // Internal: started by `vm start`, serves DIR/agent.sock until QEMU exits.
    const p = parseOptions(rest, { values: ["client", "port", "qemu-pid", "ready-file"] });
    const [client, port, pid] = [
      one(p, "client"),
      one(p, "port"),
      positiveInt(one(p, "qemu-pid"), "qemu-pid"),
    ];
    if (!client || !port || !pid) throw usageError("vm relay needs --client SOCK --port SOCK --qemu-pid N");
    await runRelay(client, port, pid, one(p, "ready-file") ?? null);
    return await new Promise<number>(() => {});
  }
  throw usageError(`unknown vm command '${sub ?? ""}'; use start, stop or run`);
}
