/**
 * Step 9: loopback up with 127.0.0.1/8 and ::1/128; with MSB_NET the interface's MAC and MTU,
 * the MSB_NET_IPV4/IPV6 addresses (IPv6 without DAD so it works at once), link up, default
 * routes via the gateways, and /etc/resolv.conf with the DNS servers (IPv4 first).
 */
import { joinPath, makeDirs, readText, writeText } from "../../sys/files.ts";
import {
  defaultRouteMessage,
  hasInet6Address,
  ifindex,
  ipv4Address,
  newAddrMessage,
  rtnetlink,
  setLinkUp,
  setMac,
  setMtu,
} from "../../sys/netlink.ts";
import type { IpConfig, NetLink } from "../grammar.ts";

const LOOPBACK_V4 = new Uint8Array([127, 0, 0, 1]);
const LOOPBACK_V6 = new Uint8Array(16);
LOOPBACK_V6[15] = 1;

/**
 * Linux gives lo 127.0.0.1/8 and ::1/128 itself when it comes up (devinet.c, addrconf.c), so
 * each is added only when it is missing: at boot the first netlink request took 9-12 ms of a
 * step of 25-29, and both came back EEXIST. (Without IPv6 there is no if_inet6 and adding ::1
 * fails, as it always did.)
 */
export function loopbackUp(): void {
  setLinkUp("lo", true);
  const hasV4 = ipv4Address("lo")?.every((b, i) => b === LOOPBACK_V4[i]) ?? false;
  let hasV6 = false;
  try {
    hasV6 = hasInet6Address(readText("/proc/net/if_inet6"), "lo", LOOPBACK_V6);
  } catch {
    // No IPv6 in this kernel: the request below says so.
  }
  if (hasV4 && hasV6) return;
  const lo = ifindex("lo");
  if (!hasV4) rtnetlink(newAddrMessage(lo, LOOPBACK_V4, 8), "RTM_NEWADDR", "lo 127.0.0.1/8", true);
  if (!hasV6) rtnetlink(newAddrMessage(lo, LOOPBACK_V6, 128), "RTM_NEWADDR", "lo ::1/128", true);
}

export function resolvConf(ipv4: IpConfig | null, ipv6: IpConfig | null): string | null {
  const servers = [ipv4?.text.dns, ipv6?.text.dns].filter((d): d is string => !!d);
  return servers.length ? servers.map((s) => `nameserver ${s}\n`).join("") : null;
}

export function configureInterface(
  net: NetLink,
  ipv4: IpConfig | null,
  ipv6: IpConfig | null,
  root = "/",
): void {
  const index = ifindex(net.iface);
  setLinkUp(net.iface, false);
  setMac(net.iface, net.mac);
  setMtu(net.iface, net.mtu);
  for (const ip of [ipv4, ipv6]) {
    if (ip)
      rtnetlink(
        newAddrMessage(index, ip.addr, ip.prefix),
        "RTM_NEWADDR",
        `${net.iface} ${ip.text.addr}/${ip.prefix}`,
        true,
      );
  }
  setLinkUp(net.iface, true);
  for (const ip of [ipv4, ipv6]) {
    if (ip)
      rtnetlink(
        defaultRouteMessage(index, ip.gw),
        "RTM_NEWROUTE",
        `default via ${ip.text.gw} dev ${net.iface}`,
        true,
      );
  }
  const resolv = resolvConf(ipv4, ipv6);
  if (resolv) {
    makeDirs(joinPath(root, "etc"));
    writeText(joinPath(root, "etc", "resolv.conf"), resolv);
  }
}
