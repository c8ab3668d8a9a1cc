"""Amazon Cognito accounts: sign-up, emailed codes, SRP sign-in and password reset.

Used instead of allauth's pages when ``FINDLABELS_AUTH=cognito``. ``client``
is the one place Cognito is called; ``jwks`` checks the tokens it returns;
``backend`` turns a checked ID token into the Django user.
"""
