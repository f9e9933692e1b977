"""The test django-helpdesk site (a Django project) and how the tests run it."""
