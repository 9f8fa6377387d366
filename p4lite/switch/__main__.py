"""`p4lite-switch`: the command line of the p4lite switch, spelled like
simple_switch_grpc's (`PROG.json | --no-p4`, `-i N@IFACE`, target options
after `--`). The only place that configures logging and maps errors to
exit codes. Imports `p4lite.switch.server` and `p4lite.switch.ports`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from p4lite.switch.ports import Port, PortError, RawPort
from p4lite.switch.server import (
    DEFAULT_GRPC_ADDRESS,
    P4RuntimeError,
    ServerError,
    ServerOptions,
    StartError,
    SwitchServer,
    TlsOptions,
)

logger = logging.getLogger(__name__)

_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "off": logging.CRITICAL + 10,
}


class UsageError(Exception):
    """A command-line value is malformed."""


def _interface(text: str) -> tuple[int, str]:
    number, sep, iface = text.partition("@")
    if not sep or not number.isdigit() or not iface:
        raise argparse.ArgumentTypeError(f"invalid interface {text!r}, expected N@IFACE")
    return int(number), iface


def _port_delay(text: str) -> tuple[int, float]:
    number, sep, millis = text.partition(":")
    try:
        if not sep:
            raise ValueError(text)
        delay = float(millis)
        if delay < 0:
            raise ValueError(text)
        return int(number), delay / 1000.0
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid port delay {text!r}, expected PORT:MILLISECONDS (e.g. 2:25)"
        ) from None


def _main_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="p4lite-switch",
        description="p4lite switch: a BMv2 JSON interpreter with a P4Runtime server "
        "(simple_switch_grpc's command line). Target options follow '--'.",
    )
    parser.add_argument("program", nargs="?", help="BMv2 JSON program to run at start-up")
    parser.add_argument("--no-p4", action="store_true", help="start without a program")
    parser.add_argument(
        "-i",
        "--interface",
        action="append",
        type=_interface,
        default=[],
        metavar="N@IFACE",
        help="attach interface IFACE as port N (repeatable)",
    )
    parser.add_argument("--device-id", type=int, default=0, help="P4Runtime device id")
    parser.add_argument("--log-console", action="store_true", help="log to the console")
    parser.add_argument("--log-file", type=Path, help="log to this file")
    parser.add_argument(
        "-L", "--log-level", choices=sorted(_LEVELS), default=None, help="logging level"
    )
    parser.add_argument("--log-flush", action="store_true", help="accepted for compatibility")
    parser.add_argument(
        "--pcap",
        nargs="?",
        const=".",
        type=Path,
        metavar="DIR",
        help="capture every port to DIR/<iface>_in.pcap and _out.pcap",
    )
    parser.add_argument("--thrift-port", type=int, help="accepted for compatibility (unused)")
    parser.add_argument("--nanolog", help="accepted for compatibility (unused)")
    parser.add_argument("--notifications-addr", help="accepted for compatibility (unused)")
    parser.add_argument("--debugger", action="store_true", help="accepted (unused)")
    parser.add_argument("--dump-packet-data", type=int, help="accepted (unused)")
    parser.add_argument("--max-port-count", type=int, help="accepted (unused)")
    parser.add_argument("--restore-state", help="accepted (unused)")
    parser.add_argument(
        "--port-delay",
        action="append",
        type=_port_delay,
        default=[],
        metavar="N:MS",
        help="delay every frame sent on port N by MS milliseconds (WAN emulation)",
    )
    return parser


def _target_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="p4lite-switch ... --", add_help=True)
    parser.add_argument("--grpc-server-addr", default=DEFAULT_GRPC_ADDRESS)
    parser.add_argument("--cpu-port", type=int, default=None)
    parser.add_argument("--grpc-server-ssl", action="store_true")
    parser.add_argument("--grpc-server-cacert", type=Path)
    parser.add_argument("--grpc-server-cert", type=Path)
    parser.add_argument("--grpc-server-key", type=Path)
    parser.add_argument("--grpc-server-with-client-auth", action="store_true")
    parser.add_argument("--port-delay", action="append", type=_port_delay, default=[])
    return parser


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, argparse.Namespace]:
    """The switch options and the target options (the part after `--`)."""
    argv = list(argv)
    if "--" in argv:
        split = argv.index("--")
        main_argv, target_argv = argv[:split], argv[split + 1 :]
    else:
        main_argv, target_argv = argv, []
    args = _main_parser().parse_args(main_argv)
    target = _target_parser().parse_args(target_argv)
    if args.program is None and args.pcap is not None and args.pcap.suffix == ".json":
        # `--pcap prog.json`: the directory is optional, the JSON was meant as the program.
        args.program, args.pcap = str(args.pcap), Path(".")
    if args.program is None and not args.no_p4:
        _main_parser().error("give a BMv2 JSON program or --no-p4")
    if args.program is not None and args.no_p4:
        _main_parser().error("--no-p4 and a program exclude each other")
    return args, target


def _configure_logging(args: argparse.Namespace) -> None:
    level = _LEVELS[args.log_level] if args.log_level else logging.INFO
    handlers: list[logging.Handler] = []
    if args.log_console:
        handlers.append(logging.StreamHandler(sys.stderr))
    if args.log_file is not None:
        handlers.append(logging.FileHandler(args.log_file))
    if not handlers:
        # Like BMv2: quiet unless asked, but problems still reach stderr.
        handlers.append(logging.StreamHandler(sys.stderr))
        level = max(level, logging.WARNING)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.setLevel(level)


def _options(args: argparse.Namespace, target: argparse.Namespace) -> ServerOptions:
    tls = None
    if target.grpc_server_ssl:
        if target.grpc_server_cert is None or target.grpc_server_key is None:
            raise UsageError("--grpc-server-ssl needs --grpc-server-cert and --grpc-server-key")
        tls = TlsOptions(
            cert=target.grpc_server_cert,
            key=target.grpc_server_key,
            cacert=target.grpc_server_cacert,
            client_auth=target.grpc_server_with_client_auth,
        )
    delays = dict(args.port_delay)
    delays.update(dict(target.port_delay))
    return ServerOptions(
        device_id=args.device_id,
        grpc_address=target.grpc_server_addr,
        cpu_port=target.cpu_port,
        tls=tls,
        pcap_dir=args.pcap,
        port_delays=delays,
    )


def _open_ports(interfaces: Sequence[tuple[int, str]]) -> list[Port]:
    ports: list[Port] = []
    try:
        for number, iface in interfaces:
            ports.append(RawPort(number, iface))
    except PortError:
        for port in ports:
            port.close()
        raise
    return ports


def main(argv: Sequence[str] | None = None) -> int:
    """Run the switch until SIGTERM or SIGINT; return the exit code."""
    args, target = parse_args(sys.argv[1:] if argv is None else argv)
    _configure_logging(args)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        options = _options(args, target)
        json_text = Path(args.program).read_text() if args.program else None
        server = SwitchServer(options, _open_ports(args.interface))
    except (UsageError, PortError, OSError) as exc:
        logger.error("p4lite-switch: %s", exc)
        return 2 if isinstance(exc, UsageError) else 1
    try:
        if json_text is not None:
            try:
                server.load_json(json_text)
            except P4RuntimeError as exc:
                raise StartError(f"{args.program}: {exc.message}") from exc
        server.start()
    except ServerError as exc:
        logger.error("p4lite-switch: %s", exc)
        server.stop()
        return 1
    try:
        # Wake up now and then so that signals are handled promptly.
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
