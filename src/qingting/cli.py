"""The `qingting` command: Django's manage.py plus the project's own commands.

`qingting run` migrates, and serves the app on 127.0.0.1:8000 (with periodic jobs
in-process when no broker is configured); `qingting demo` loads demo data.
"""
import os
import sys


def main(argv=None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qingting.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["qingting", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
