"""A 2G-like link between two network namespaces: veth, tc tbf bandwidth, nftables random loss.

Needs root, iproute2 (ip, tc) and nftables (nft). ``netem`` is used for loss
and delay where the kernel has it; otherwise loss comes from an nftables
``numgen random mod 100 < N drop`` rule on each side's output (FIELD-NOTES
"Links"). ``unavailable()`` returns the reason to skip, or None.

Example::

    with NetnsLink(rate_kbit=40, loss_pct=5) as link:
        link.popen("b", [python, "-m", "central", "--host", link.ip_b, ...])
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in ("ip", "tc", "nft"):
        if shutil.which(tool) is None:
            return f"needs {tool} (iproute2 / nftables)"
    probe = f"uchkprobe{os.getpid() % 100000}"
    r = _run("ip", "netns", "add", probe, check=False)
    if r.returncode != 0:
        return f"cannot create a network namespace: {r.stderr.strip()}"
    _run("ip", "netns", "del", probe, check=False)
    return None


class NetnsLink:
    """Two namespaces ``a`` (station) and ``b`` (centre) joined by a shaped veth pair."""

    def __init__(self, rate_kbit: int = 40, loss_pct: int = 5, latency: str = "2s"):
        tag = f"{os.getpid() % 10000}{random.randint(0, 99):02d}"
        self.ns = {"a": f"uchk{tag}a", "b": f"uchk{tag}b"}
        self.dev = {"a": f"uk{tag}a", "b": f"uk{tag}b"}
        net = random.randint(1, 250)
        self.ip = {"a": f"10.213.{net}.1", "b": f"10.213.{net}.2"}
        self.rate_kbit, self.loss_pct, self.latency = rate_kbit, loss_pct, latency
        self.shaping: list[str] = []
        self._procs: list[subprocess.Popen] = []

    @property
    def ip_b(self) -> str:
        return self.ip["b"]

    def __enter__(self) -> NetnsLink:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ns_exec(self, side: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run("ip", "netns", "exec", self.ns[side], *cmd, check=check)

    def _build(self) -> None:
        for side in "ab":
            _run("ip", "netns", "add", self.ns[side])
        _run("ip", "link", "add", self.dev["a"], "netns", self.ns["a"], "type", "veth",
             "peer", "name", self.dev["b"], "netns", self.ns["b"])
        for side in "ab":
            self.ns_exec(side, "ip", "addr", "add", f"{self.ip[side]}/24", "dev", self.dev[side])
            self.ns_exec(side, "ip", "link", "set", self.dev[side], "up")
            self.ns_exec(side, "ip", "link", "set", "lo", "up")
            netem = self.ns_exec(side, "tc", "qdisc", "add", "dev", self.dev[side], "root", "netem",
                                 "rate", f"{self.rate_kbit}kbit", "loss", f"{self.loss_pct}%",
                                 "delay", "150ms", check=False)
            if netem.returncode == 0:
                self.shaping.append(f"{side}: netem rate {self.rate_kbit}kbit loss {self.loss_pct}%")
                continue
            self.ns_exec(side, "tc", "qdisc", "add", "dev", self.dev[side], "root", "tbf", "rate",
                         f"{self.rate_kbit}kbit", "burst", "1600", "latency", self.latency)
            if self.loss_pct:
                self.ns_exec(side, "nft", "add", "table", "inet", "uchk")
                self.ns_exec(side, "nft", "add", "chain", "inet", "uchk", "out",
                             "{ type filter hook output priority 0 ; policy accept ; }")
                self.ns_exec(side, "nft", "add", "rule", "inet", "uchk", "out", "oifname",
                             self.dev[side], "numgen", "random", "mod", "100", "<",
                             str(self.loss_pct), "drop")
            self.shaping.append(f"{side}: tbf {self.rate_kbit}kbit + nft numgen drop {self.loss_pct}%")

    def popen(self, side: str, cmd: list[str], **kw) -> subprocess.Popen:
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[side], *cmd], **kw)
        self._procs.append(p)
        return p

    def close(self) -> None:
        for p in self._procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for side in "ab":
            _run("ip", "netns", "del", self.ns[side], check=False)
