"""The load generator's guard rails: it targets loopback only, and its simulated
applicants' source addresses are loopback too. (The load itself: benchmarks/load.)"""

from __future__ import annotations

import ipaddress

import pytest

from benchmarks.load.client import SourceAddresses
from benchmarks.load.run import main
from benchmarks.load.stack import require_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "localhost", "::1"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    require_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.10", "172.16.0.1", "8.8.8.8", "0.0.0.0",
                                  "host.invalid"])
def test_other_hosts_are_refused(host: str) -> None:
    with pytest.raises(SystemExit, match="refusing host"):
        require_loopback(host)


def test_cli_refuses_before_starting_anything() -> None:
    with pytest.raises(SystemExit, match="not loopback"):
        main(["--host", "10.1.2.3", "--quick"])


def test_source_addresses_stay_on_loopback() -> None:
    src = SourceAddresses()
    addrs = [src.next() for _ in range(70_000)]
    assert all(ipaddress.ip_address(a).is_loopback for a in addrs[:: 997])
    assert len(set(addrs[:62_500])) == 62_500 and addrs[62_500] == addrs[0]
