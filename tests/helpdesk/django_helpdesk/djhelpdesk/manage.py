#!/usr/bin/env python
"""The test django-helpdesk site's management command (migrate, runserver, shell…)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deskproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
