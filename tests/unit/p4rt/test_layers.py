"""The pure layers of controller.p4rt load without grpc."""

import subprocess
import sys


def test_pure_layers_do_not_load_grpc() -> None:
    code = (
        "import sys\n"
        "import controller.p4rt.codec, controller.p4rt.p4info\n"
        "import controller.p4rt.entities, controller.p4rt.reconcile\n"
        "print(sorted(m for m in sys.modules if m == 'grpc' or m.startswith('grpc.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_client_layer_does_load_grpc() -> None:
    code = "import sys\nimport controller.p4rt.client\nprint('grpc' in sys.modules)\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "True"
