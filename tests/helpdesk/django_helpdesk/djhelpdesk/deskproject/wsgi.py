"""WSGI entry point of the test django-helpdesk site."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deskproject.settings")
application = get_wsgi_application()
