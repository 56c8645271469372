"""The hosts fixture itself (tests/e2e/hosts.py): hosts reach each other by
TCP and nothing else, each has its own hostname, sshd works between them, and
nothing is left once they are torn down."""

import subprocess

from hosts import Hosts

ECHO_SERVER = ("import socket,sys\n"
               "s=socket.socket(); s.bind((sys.argv[1],int(sys.argv[2]))); s.listen(1)\n"
               "print('listening',flush=True)\n"
               "c,a=s.accept(); c.sendall(socket.gethostname().encode()+b' '+a[0].encode())\n")
CLIENT = ("import socket,sys\n"
          "c=socket.create_connection((sys.argv[1],int(sys.argv[2])),10)\n"
          "print(c.recv(100).decode())\n")
TRY_CONNECT = ("import socket,sys\n"
               "try:\n"
               "  socket.create_connection((sys.argv[1],int(sys.argv[2])),3)\n"
               "  print('connected')\n"
               "except OSError as e:\n"
               "  print(e.strerror)\n")


def machine_addrs():
    return subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout


def test_hosts_talk_tcp_and_only_to_each_other(net):
    before = machine_addrs()
    hs = net(3)
    names = [h.run("hostname").stdout.strip() for h in hs]
    assert names == ["host1", "host2", "host3"]
    for h in hs:
        addrs = h.run("ip", "-o", "-4", "addr").stdout
        assert f"inet {h.addr}/24" in addrs, addrs
    srv = hs[0].popen(["/usr/bin/python3", "-c", ECHO_SERVER, hs[0].addr, 5000],
                      stdout=subprocess.PIPE, text=True)
    assert srv.stdout.readline() == "listening\n"
    r = hs[2].run("/usr/bin/python3", "-c", CLIENT, "host1", 5000)
    assert r.returncode == 0 and r.stdout.strip() == f"host1 {hs[2].addr}", r
    assert srv.wait(10) == 0
    # no route out of the wire
    for addr in ("198.51.100.1", "8.8.8.8"):
        r = hs[1].run("/usr/bin/python3", "-c", TRY_CONNECT, addr, 80, timeout=20)
        assert r.stdout.strip() in ("Network is unreachable", "No route to host"), (addr, r)
    # the machine's own network did not change
    assert machine_addrs() == before


def test_hosts_torn_down(tmp_path):
    hs = Hosts(tmp_path / "net", 2)
    hs.start()
    p = hs[1].popen(["sleep", "1000"])
    assert hs.alive() and p.poll() is None
    hs.close()
    assert hs.alive() == [] and p.poll() is not None


def test_ssh_between_hosts(net):
    hs = net(2, sshd=True)
    r = hs[0].run(*hs[0].ssh_argv(hs[1], "hostname; echo $SSH_CONNECTION"), timeout=30)
    assert r.returncode == 0, r
    name, conn = r.stdout.split("\n")[:2]
    assert name == "host2" and conn.split()[0] == hs[0].addr and conn.split()[2] == hs[1].addr, r
    # sshd listens on its host's address only
    r = hs[1].run("/usr/bin/python3", "-c", TRY_CONNECT, "127.0.0.1", 22)
    assert r.stdout.strip() == "Connection refused", r
