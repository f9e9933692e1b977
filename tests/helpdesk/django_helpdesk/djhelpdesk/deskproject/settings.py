"""A minimal django-helpdesk site for the end-to-end test, set up as django-helpdesk's
installation guide says (docs/install.rst), everything else from the environment.

DESK_DATA_DIR     where the SQLite database and attachments live (a test's tmp dir)
HELPDESK_NEW_TICKET_WEBHOOK_URLS, HELPDESK_FOLLOWUP_WEBHOOK_URLS
                  read by django-helpdesk itself: our webhook URL, the secret as its password
CONNECTOR_URL, CONNECTOR_SECRET_KEY, CONNECTOR_LINK_TTL_S, CONNECTOR_REGION
                  for the `connector_sidebar` template tag (the sealed sidebar link)
"""

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("DESK_DATA_DIR", HERE.parent / "var"))

SECRET_KEY = os.environ.get("DESK_SECRET_KEY", "django-insecure-test-only")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SITE_ID = 1
ROOT_URLCONF = "deskproject.urls"
USE_TZ = True
TIME_ZONE = "Europe/Paris"
LANGUAGE_CODE = "en"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",  # django-helpdesk: the domain of links in its emails
    "django.contrib.messages",
    "django.contrib.admin",  # django-helpdesk: admin and maintenance
    "django.contrib.humanize",  # django-helpdesk: elapsed times
    "django.contrib.staticfiles",
    "rest_framework",  # django-helpdesk's REST API
    "deskproject",  # before helpdesk: our template override and the sidebar tag
    "helpdesk",
]
HELPDESK_TEAMS_MODE_ENABLED = False  # no pinax-teams in this site

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": str(DATA / "desk.sqlite3")}}
MEDIA_ROOT = str(DATA / "media")
STATIC_URL = "/static/"
LOGIN_URL = "/helpdesk/login/"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # no mail leaves the test

# The sealed sidebar link (docs/helpdesks/django-helpdesk.md, "Show the record")
CONNECTOR_URL = os.environ.get("CONNECTOR_URL", "")
CONNECTOR_SECRET_KEY = os.environ.get("CONNECTOR_SECRET_KEY", "")
CONNECTOR_LINK_TTL_S = int(os.environ.get("CONNECTOR_LINK_TTL_S", "600"))
CONNECTOR_REGION = os.environ.get("CONNECTOR_REGION", "FR")
